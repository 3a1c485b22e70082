export { TerminalService, TERM } from './terminal-service.ts';
export type { OpenRequest, TerminalServiceDeps, TerminalSsh } from './terminal-service.ts';
export { terminalSshFromHosts } from './ssh-targets.ts';
export { OutputPump, DEFAULT_PUMP_LIMITS, formatBytes } from './output-pump.ts';
export type { PumpLimits } from './output-pump.ts';
export { PodExecStream, readStatus, execPath, EXEC_PROTOCOLS, CHANNEL } from './pod-exec.ts';
export type { ExecStatus, ExecTransport, PodExecRequest } from './pod-exec.ts';
