// The data plane of a simulated predictor: KServe's v1 and Open Inference
// Protocol v2 REST routes and the OpenAI-compatible routes of the Hugging Face
// (prefix /openai) and vLLM (no prefix) runtimes (reference/kserve.md §4),
// over a trivial model, so tests can check real answers:
//   v1 :predict   → each instance row summed
//   v2 infer      → input0's data doubled, same shape, FP32
//   OpenAI        → "echo: " + the prompt / the last user message
// Only the protocols the runtime declares are served; everything else is 404.

export interface ModelContext {
  /** The model name: the InferenceService's name, as KServe's runtimes serve it. */
  name: string;
  /** KServe protocols the runtime declares (v1, v2, grpc-*). */
  protocols: string[];
  /** OpenAI route prefix ('' or '/openai'), undefined when the runtime has none. */
  openAiPrefix?: string;
  /** The runtime's name, for v2 server metadata. */
  server: string;
}

export interface Reply {
  status: number;
  body: unknown;
}

const json = (status: number, body: unknown): Reply => ({ status, body });
const error = (status: number, message: string): Reply => json(status, { error: message });
const openAiError = (status: number, message: string, type: string): Reply => json(status, { error: { message, type, code: status } });

class BadRequest extends Error {}

function parseBody(raw: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw new BadRequest(`malformed JSON body: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function flatten(v: unknown, out: number[] = []): number[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else if (isNum(v)) out.push(v);
  else throw new BadRequest(`expected numbers, got ${JSON.stringify(v)}`);
  return out;
}

function predictV1(body: Record<string, unknown>): Reply {
  const instances = body.instances ?? body.inputs;
  if (!Array.isArray(instances)) throw new BadRequest('expected "instances" (or "inputs") to be a list');
  const predictions = instances.map((row) => flatten(row).reduce((a, b) => a + b, 0));
  return json(200, { predictions });
}

function inferV2(model: string, version: string | undefined, body: Record<string, unknown>): Reply {
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new BadRequest('expected "inputs" to be a non-empty list');
  const input0 = inputs[0] as Record<string, unknown>;
  if (!input0 || typeof input0 !== 'object') throw new BadRequest('inputs[0] must be an object');
  const shape = input0.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new BadRequest('inputs[0].shape must be a list of non-negative integers');
  const data = flatten(input0.data ?? null);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new BadRequest(`inputs[0] has ${data.length} values but shape ${JSON.stringify(shape)} needs ${count}`);
  return json(200, {
    model_name: model,
    ...(version ? { model_version: version } : {}),
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    outputs: [{ name: 'output0', datatype: 'FP32', shape, data: data.map((x) => x * 2) }],
  });
}

const words = (s: string) => (s.trim() ? s.trim().split(/\s+/).length : 0);
let completionSeq = 0;

function completions(model: string, body: Record<string, unknown>): Reply {
  const prompt = body.prompt;
  const prompts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) && prompt.every((p) => typeof p === 'string') ? (prompt as string[]) : undefined;
  if (!prompts) throw new BadRequest('"prompt" must be a string or a list of strings');
  if (body.stream === true) throw new BadRequest('streaming is not supported by the test bed');
  const choices = prompts.map((p, index) => ({ index, text: `echo: ${p}`, logprobs: null, finish_reason: 'stop' }));
  const promptTokens = prompts.reduce((a, p) => a + words(p), 0);
  const completionTokens = choices.reduce((a, c) => a + words(c.text), 0);
  return json(200, {
    id: `cmpl-sim-${++completionSeq}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  });
}

function chat(model: string, body: Record<string, unknown>): Reply {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new BadRequest('"messages" must be a non-empty list');
  if (body.stream === true) throw new BadRequest('streaming is not supported by the test bed');
  const ok = messages.every((m) => m && typeof m === 'object' && typeof (m as { role?: unknown }).role === 'string' && typeof (m as { content?: unknown }).content === 'string');
  if (!ok) throw new BadRequest('each message needs a string "role" and "content"');
  const typed = messages as Array<{ role: string; content: string }>;
  const lastUser = [...typed].reverse().find((m) => m.role === 'user');
  if (!lastUser) throw new BadRequest('no message with role "user"');
  const content = `echo: ${lastUser.content}`;
  const promptTokens = typed.reduce((a, m) => a + words(m.content), 0);
  return json(200, {
    id: `chatcmpl-sim-${++completionSeq}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: words(content), total_tokens: promptTokens + words(content) },
  });
}

const modelCard = (name: string, owner: string) => ({ id: name, object: 'model', created: 0, owned_by: owner });

/** Answers one request; never throws. */
export function handle(ctx: ModelContext, method: string, rawPath: string, rawBody: string): Reply {
  const path = rawPath.split('?')[0]!.replace(/\/+$/, '') || '/';
  try {
    return route(ctx, method, path, rawBody);
  } catch (err) {
    if (err instanceof BadRequest) return error(400, err.message);
    return error(500, err instanceof Error ? err.message : String(err));
  }
}

function route(ctx: ModelContext, method: string, path: string, rawBody: string): Reply {
  const v1 = ctx.protocols.includes('v1');
  const v2 = ctx.protocols.includes('v2');
  const noModel = (name: string) => error(404, `Model with name ${name} does not exist.`);
  const seg = path.split('/').slice(1).map(decodeURIComponent);

  if (path === '/' && method === 'GET') return json(200, { status: 'alive' });

  // OpenAI first: vLLM's un-prefixed /v1/models must not fall into KServe v1.
  if (ctx.openAiPrefix !== undefined && path.startsWith(`${ctx.openAiPrefix}/v1/`)) {
    const rest = path.slice(ctx.openAiPrefix.length);
    const owner = ctx.openAiPrefix === '' ? 'vllm' : 'kserve';
    if (rest === '/v1/models' && method === 'GET') return json(200, { object: 'list', data: [modelCard(ctx.name, owner)] });
    if (rest.startsWith('/v1/models/') && method === 'GET') {
      const name = decodeURIComponent(rest.slice('/v1/models/'.length));
      return name === ctx.name ? json(200, modelCard(name, owner)) : openAiError(404, `The model \`${name}\` does not exist.`, 'NotFoundError');
    }
    if ((rest === '/v1/completions' || rest === '/v1/chat/completions') && method === 'POST') {
      const body = parseBody(rawBody);
      if (typeof body.model !== 'string') throw new BadRequest('"model" must be a string');
      if (body.model !== ctx.name) return openAiError(404, `The model \`${body.model}\` does not exist.`, 'NotFoundError');
      return rest === '/v1/completions' ? completions(ctx.name, body) : chat(ctx.name, body);
    }
    return error(404, 'Not Found');
  }

  if (v1 && seg[0] === 'v1' && seg[1] === 'models') {
    if (seg.length === 2 && method === 'GET') return json(200, { models: [ctx.name] });
    if (seg.length === 3) {
      const m = /^(.*):(predict|explain)$/.exec(seg[2]!);
      if (m && method === 'POST') {
        if (m[1] !== ctx.name) return noModel(m[1]!);
        if (m[2] === 'explain') return error(404, 'Not Found');
        return predictV1(parseBody(rawBody));
      }
      if (!m && method === 'GET') return seg[2] === ctx.name ? json(200, { name: ctx.name, ready: true }) : noModel(seg[2]!);
    }
    return error(404, 'Not Found');
  }

  if (v2 && seg[0] === 'v2') {
    if (seg.length === 1 && method === 'GET') return json(200, { name: ctx.server, version: '0.20.0-tessera-sim', extensions: ['model_repository'] });
    if (seg[1] === 'health' && seg.length === 3 && method === 'GET') {
      if (seg[2] === 'live') return json(200, { live: true });
      if (seg[2] === 'ready') return json(200, { ready: true });
    }
    if (seg[1] === 'models') {
      if (seg.length === 2 && method === 'GET') return json(200, { models: [ctx.name] });
      const name = seg[2]!;
      let rest = seg.slice(3);
      let version: string | undefined;
      if (rest[0] === 'versions' && rest[1]) {
        version = rest[1];
        rest = rest.slice(2);
      }
      if (name !== ctx.name) return noModel(name);
      if (rest.length === 0 && method === 'GET') {
        return json(200, {
          name,
          versions: ['1'],
          platform: ctx.server,
          inputs: [{ name: 'input0', datatype: 'FP32', shape: [-1, -1] }],
          outputs: [{ name: 'output0', datatype: 'FP32', shape: [-1, -1] }],
        });
      }
      if (rest.length === 1 && rest[0] === 'ready' && method === 'GET') return json(200, { name, ready: true });
      if (rest.length === 1 && rest[0] === 'infer' && method === 'POST') return inferV2(name, version, parseBody(rawBody));
    }
    return error(404, 'Not Found');
  }
  return error(404, 'Not Found');
}
