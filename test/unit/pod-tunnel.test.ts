// The port-forward tunnel against the test bed's kubelet side of the same
// protocol (servePortForward), with a plain local WebSocket server standing in
// for the API server's pass-through: the port prefix on both channels is not
// data, bytes flow both ways, and a port nothing serves ends the tunnel with
// the kubelet's error text.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { WebSocketServer } from 'ws';
import { PodTunnel } from '../../electron/core/portforward/pod-tunnel.ts';
import { pickExecProtocol, servePortForward } from '../testbed/fleet/kubelet-exec.ts';

let echo: net.Server;
let echoPort = 0;
let api: http.Server;
let apiPort = 0;
const dispatcher = new Agent({ allowH2: false });
const requested: string[] = [];

before(async () => {
  // The "container port": upper-cases what it gets.
  echo = net.createServer((c) => c.on('data', (d) => c.write(String(d).toUpperCase())));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as net.AddressInfo).port;
  const wss = new WebSocketServer({ noServer: true, handleProtocols: pickExecProtocol });
  api = http.createServer();
  api.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://api');
    requested.push(url.pathname + url.search);
    const ports = (url.searchParams.get('ports') ?? '').split(',').map(Number);
    wss.handleUpgrade(req, socket, head, (ws) => servePortForward(ws, ports, (p) => (p === 8888 ? { host: '127.0.0.1', port: echoPort } : undefined), () => undefined));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiPort = (api.address() as net.AddressInfo).port;
});

after(async () => {
  api.closeAllConnections();
  api.close();
  echo.close();
  await dispatcher.close();
});

const transport = () => ({ server: `http://127.0.0.1:${apiPort}`, dispatcher, headers: async () => ({ authorization: 'Bearer t' }) });

test('bytes flow both ways through pods/portforward; the port prefix is not data', async () => {
  const t = new PodTunnel(transport(), { namespace: 'team-a', pod: 'ws-0', port: 8888 });
  t.write('hello ');
  t.write('jupyter');
  let got = '';
  await new Promise<void>((resolve) => {
    t.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= 13) resolve();
    });
  });
  assert.equal(got, 'HELLO JUPYTER');
  assert.equal(requested.at(-1), '/api/v1/namespaces/team-a/pods/ws-0/portforward?ports=8888');
  t.destroy();
});

test('a port nothing serves ends the tunnel with the kubelet\'s error', async () => {
  const t = new PodTunnel(transport(), { namespace: 'team-a', pod: 'ws-0', port: 9999 });
  const err = await new Promise<Error>((resolve) => t.on('error', resolve));
  assert.match(err.message, /port-forward to team-a\/ws-0:9999: error forwarding port 9999 to pod: .*connection refused/);
});

test('an API server that refuses the upgrade is reported, not hung on', async () => {
  const t = new PodTunnel({ ...transport(), server: `http://127.0.0.1:${echoPort === 1 ? 2 : 1}` }, { namespace: 'a', pod: 'p', port: 8888 }, 2000);
  const err = await new Promise<Error>((resolve) => t.on('error', resolve));
  assert.match(err.message, /refused the port-forward to a\/p:8888|port-forward to a\/p:8888 failed/);
});
