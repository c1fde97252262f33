// The deploy examples hold together: the configs they ship pass swimd's own
// validation, the Kubernetes objects point at each other (Service, ConfigMap,
// the socket's shared volume, the data volume), and the image and the unit stop
// with SIGTERM (a planned leave) and reload with SIGHUP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseDaemonConfig, type DaemonConfig } from '../../src/config/daemon-config.js';

const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'deploy');

// Kubernetes objects are read loosely: the test checks the fields it names.
type Obj = Record<string, any>;

/** Validates a shipped config with swimd's own parser (host-name joins included). */
function validate(text: string, source: string): { cfg: DaemonConfig } {
  return { cfg: parseDaemonConfig(text, source) };
}

test('the Kubernetes example: headless Service, ConfigMap config, shared socket and durable data', () => {
  const files = readdirSync(join(DEPLOY, 'k8s')).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  const objects: Obj[] = files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(DEPLOY, 'k8s', f), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], f);
      return d.toJS() as Obj;
    }),
  );
  const of = (kind: string): Obj => {
    const found = objects.filter((o) => o.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0]!;
  };
  const svc = of('Service');
  const cm = of('ConfigMap');
  const sts = of('StatefulSet');
  assert.equal(svc.spec.clusterIP, 'None', 'a headless Service');
  assert.equal(svc.spec.publishNotReadyAddresses, true, 'pods resolve before they are ready, so the first members can join');
  assert.deepEqual(svc.spec.ports.map((p: Obj) => `${p.port}/${p.protocol}`).sort(), ['7946/TCP', '7946/UDP']);
  assert.equal(sts.spec.serviceName, svc.metadata.name);
  assert.deepEqual(sts.spec.template.metadata.labels, svc.spec.selector);

  const { cfg } = validate(cm.data['swimd.yaml'], 'ConfigMap swimd-config');
  const joins = cfg.join.map((a) => `${a.host}:${a.port}`);
  assert.deepEqual(joins, [`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:7946`], 'join names the headless Service');
  assert.equal(cfg.node.bind.host, '0.0.0.0');
  assert.equal(cfg.partitions.quorum, Math.floor(sts.spec.replicas / 2) + 1, 'quorum is a majority of the replicas');
  assert.ok(cfg.swim.keys.length > 0, 'gossip is encrypted on the pod network');

  const pod = sts.spec.template.spec;
  const swimd = pod.containers.find((c: Obj) => c.name === 'swimd');
  const app = pod.containers.find((c: Obj) => c.name !== 'swimd');
  assert.ok(swimd && app, 'swimd and an application container');
  const mountOf = (c: Obj, path: string): Obj | undefined => c.volumeMounts.find((m: Obj) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
  const socketDir = posix.dirname(cfg.api.socket);
  const socketVolume = mountOf(swimd, cfg.api.socket)?.name;
  assert.ok(socketVolume, `swimd mounts ${socketDir}`);
  assert.equal(mountOf(app, cfg.api.socket)?.name, socketVolume, 'the application mounts the same volume at the socket\'s directory');
  assert.ok(pod.volumes.find((v: Obj) => v.name === socketVolume).emptyDir, 'the socket lives in an emptyDir');
  assert.equal(app.env.find((e: Obj) => e.name === 'SWIMD_SOCKET').value, cfg.api.socket);
  assert.equal(cfg.api.mode, 0o660, 'the socket is group-accessible');
  assert.ok(pod.securityContext.fsGroup, 'and both containers share the pod\'s fsGroup');

  const dataVolume = mountOf(swimd, cfg.node.dataDir)?.name;
  assert.ok(sts.spec.volumeClaimTemplates.some((t: Obj) => t.metadata.name === dataVolume), 'granted epochs are on a persistent volume');
  const cmVolume = pod.volumes.find((v: Obj) => v.configMap?.name === cm.metadata.name);
  assert.equal(mountOf(swimd, '/etc/swimd/swimd.yaml')?.name, cmVolume.name, 'the config is mounted where the image reads it');
  assert.ok(swimd.env.some((e: Obj) => e.name === 'SWIMD_NAME' && e.valueFrom.fieldRef.fieldPath === 'metadata.name'), 'the member is named after its pod');
  assert.ok(swimd.args.includes('--advertise=$(POD_IP):7946'));
  assert.ok(pod.terminationGracePeriodSeconds > cfg.partitions.handoffTimeoutMs / 1000, 'the grace period covers the handoff');
  assert.equal(swimd.securityContext.readOnlyRootFilesystem, true);
});

test('the image: node:20-slim, runtime dependencies only, non-root, its default config valid', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 1 && froms.every((f) => f === 'node:20-slim'), `bases: ${froms.join(', ')}`);
  assert.match(dockerfile, /npm ci --omit=dev/);
  const user = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]).at(-1);
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as ${user}`);
  assert.match(dockerfile, /^STOPSIGNAL SIGTERM$/m);
  const socket = /SWIMD_SOCKET=(\S+)/.exec(dockerfile)![1]!;
  const configPath = /SWIMD_CONFIG=(\S+)/.exec(dockerfile)![1]!;
  assert.match(dockerfile, new RegExp(`^COPY deploy/docker/swimd.yaml ${configPath}$`, 'm'));
  const { cfg } = validate(readFileSync(join(DEPLOY, 'docker', 'swimd.yaml'), 'utf8'), 'deploy/docker/swimd.yaml');
  assert.equal(cfg.api.socket, socket, 'the CLI in the image finds the socket without --socket');
  assert.equal(cfg.node.dataDir, '/var/lib/swimd');
  assert.match(dockerfile, /^VOLUME \["\/var\/lib\/swimd"\]$/m);
});

test('the systemd unit: SIGTERM to stop, SIGHUP to reload, hardened', () => {
  const unit = readFileSync(join(DEPLOY, 'swimd.service'), 'utf8');
  const keys = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string): string => {
    assert.equal(keys.get(k)?.length, 1, k);
    return keys.get(k)![0]!;
  };
  assert.match(one('ExecStart'), /swimd agent --config \S+/);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.notEqual(one('User'), 'root');
  for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices']) assert.equal(one(k), 'yes', k);
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('CapabilityBoundingSet'), '');
  assert.equal(one('RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6');
  assert.ok(!keys.has('MemoryDenyWriteExecute'), 'V8 needs writable-then-executable memory');
  assert.match(one('ExecStart'), /--data-dir \/var\/lib\/swimd/);
  assert.equal(one('StateDirectory'), 'swimd', 'the data directory survives restarts');
});
