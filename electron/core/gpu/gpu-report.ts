// The report shape lives in shared/ so the renderer can show it (the Hosts page's GPUs); parsers import it from here.
export * from '../../../shared/model/gpu-report.ts';
