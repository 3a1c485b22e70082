import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseSshConfig } from '../../electron/core/hosts/ssh-config.ts';
import type { SshConfigFiles } from '../../electron/core/hosts/ssh-config.ts';

const HOME = '/home/ann';

function files(map: Record<string, string>): SshConfigFiles {
  return {
    home: HOME,
    read: (f) => map[f] ?? null,
    list: (d) =>
      Object.keys(map)
        .filter((f) => path.dirname(f) === d)
        .map((f) => path.basename(f)),
  };
}

describe('OpenSSH client config import', () => {
  test('several hosts per Host line, each with the block options; wildcards are skipped but their defaults apply', () => {
    const r = parseSshConfig(
      [
        '# site A',
        'Host gpu-a1 gpu-a2',
        '  User ops',
        '  Port 2222',
        'Host gpu-*',
        '  IdentityFile ~/.ssh/site_a',
        '  User ignored-because-first-wins',
        'Host *',
        '  Port 22',
      ].join('\n'),
      files({}),
    );
    assert.deepEqual(r.hosts.map((h) => h.alias), ['gpu-a1', 'gpu-a2']);
    for (const h of r.hosts) {
      assert.equal(h.user, 'ops');
      assert.equal(h.port, 2222);
      assert.equal(h.hostName, h.alias);
      assert.equal(h.identityFile, '/home/ann/.ssh/site_a');
    }
    assert.deepEqual(r.skipped.map((s) => s.name), ['gpu-*', '*']);
  });

  test('HostName with %h, Keyword=value, quoted values, negated patterns, and comments', () => {
    const r = parseSshConfig(
      ['Host edge1 !edge2', '  HostName=%h.site.example', 'Host edge2', '  HostName "10.0.0.2"', '  IdentityFile "/keys/with space"  # trailing comment'].join('\n'),
      files({}),
    );
    const e1 = r.hosts.find((h) => h.alias === 'edge1')!;
    const e2 = r.hosts.find((h) => h.alias === 'edge2')!;
    assert.equal(e1.hostName, 'edge1.site.example');
    assert.equal(e2.hostName, '10.0.0.2', 'the negated pattern keeps edge1\'s HostName off edge2');
    assert.equal(e2.identityFile, '/keys/with space');
  });

  test('ProxyJump chains are split on commas; "none" means direct', () => {
    const r = parseSshConfig(['Host inner', '  HostName 10.1.0.5', '  ProxyJump bastion,ops@mid.example:2200', 'Host bastion', '  ProxyJump none'].join('\n'), files({}));
    assert.deepEqual(r.hosts.find((h) => h.alias === 'inner')!.proxyJump, ['bastion', 'ops@mid.example:2200']);
    assert.deepEqual(r.hosts.find((h) => h.alias === 'bastion')!.proxyJump, []);
  });

  test('Include is followed relative to ~/.ssh, with globs, and a loop is reported not followed', () => {
    const r = parseSshConfig(
      ['Include conf.d/*.conf', 'Include /etc/ssh/missing.conf', 'Host top', '  User root'].join('\n'),
      files({
        '/home/ann/.ssh/conf.d/a.conf': 'Host inc-a\n  HostName 192.168.1.10\n',
        '/home/ann/.ssh/conf.d/b.conf': 'Host inc-b\n  Port 2022\nInclude ~/.ssh/conf.d/b.conf\n',
        '/home/ann/.ssh/conf.d/readme.txt': 'Host not-included\n',
      }),
    );
    assert.deepEqual(r.hosts.map((h) => h.alias), ['inc-a', 'inc-b', 'top']);
    assert.equal(r.hosts[0]!.hostName, '192.168.1.10');
    assert.equal(r.hosts[1]!.port, 2022);
    assert.ok(r.warnings.some((w) => /would loop/.test(w)), r.warnings.join('\n'));
  });

  test('Match blocks are skipped with a warning and do not leak options', () => {
    const r = parseSshConfig(['Match user bob', '  Port 2200', 'Host a', '  HostName 10.0.0.1'].join('\n'), files({}));
    assert.equal(r.hosts[0]!.port, undefined);
    assert.ok(r.warnings.some((w) => /Match block skipped/.test(w)));
  });
});
