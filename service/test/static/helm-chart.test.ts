import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../local-stack/processes';
import { CONFIG_HELP, loadConfig } from '../../src/wiring/config';

/**
 * The Helm chart, checked offline: `make k8s-check` (lint, render every ci/ values file, validate
 * against the Kubernetes schemas) passes, a broken chart fails it, and what it renders is a
 * configuration the replica accepts, with the probes, drain and hardening docs/operations.md lists.
 */
const CHART = join(ROOT, 'deploy/helm/local-cache-sync');
const HELM = join(ROOT, '.cache/bin/helm');

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML, walked by the assertions below
type Rendered = any;
type Manifest = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Rendered;
  data?: Rendered;
};

function render(values: string[], set: string[] = [], chart = CHART): { manifests: Manifest[]; error: string } {
  const run = spawnSync(
    HELM,
    [
      'template',
      'check',
      chart,
      '--kube-version',
      '1.33.0',
      ...values.flatMap((v) => ['-f', join(chart, v)]),
      ...set.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) return { manifests: [], error: run.stderr };
  return {
    manifests: parseAllDocuments(run.stdout)
      .map((d) => d.toJS() as Manifest)
      .filter(Boolean),
    error: '',
  };
}

const k8sCheck = (chart: string) =>
  spawnSync('bash', ['scripts/k8s-check.sh'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CHART: chart } });

beforeAll(() => {
  const tools = spawnSync('bash', ['scripts/k8s-tools.sh'], { cwd: ROOT, encoding: 'utf8' });
  if (tools.status !== 0) throw new Error(`k8s tools: ${tools.stdout}${tools.stderr}`);
}, 600_000);

describe('Helm chart', () => {
  it('passes make k8s-check: lint, render and schema validation of every ci/ values file', () => {
    const run = k8sCheck(CHART);
    expect({ status: run.status, out: run.stdout + run.stderr }).toMatchObject({ status: 0 });
    expect(run.stdout).toMatch(/standalone valid on Kubernetes 1\.37\.0/);
    expect(run.stdout).toMatch(/sentinel valid on Kubernetes 1\.30\.0/);
    expect(run.stdout).toMatch(/cluster valid on Kubernetes 1\.37\.0/);
  }, 120_000);

  it.each([
    ['an unknown field', 'deployment.yaml', '  strategy:', '  replicass: 3\n  strategy:'],
    ['a wrong type', 'service.yaml', 'protocol: TCP', 'protocol: [TCP]'],
  ])(
    'fails make k8s-check when a template renders %s',
    (_what, file, from, to) => {
      const dir = mkdtempSync(join(tmpdir(), 'lcs-chart-'));
      try {
        const chart = join(dir, 'local-cache-sync');
        cpSync(CHART, chart, { recursive: true });
        const path = join(chart, 'templates', file);
        const text = readFileSync(path, 'utf8');
        expect(text).toContain(from);
        writeFileSync(path, text.replace(from, to));
        const run = k8sCheck(chart);
        expect(run.status).not.toBe(0);
        expect(run.stdout).toMatch(/does not validate/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it.each([
    ['standalone', { REDIS_URL: 'redis://book-replica:pw@redis:6379' }],
    ['sentinel', { REDIS_PASSWORD: 'pw' }],
    ['cluster', { REDIS_PASSWORD: 'pw' }],
  ])('renders a %s Deployment whose environment the replica accepts', (topology, redisSecret) => {
    const { manifests, error } = render([`ci/${topology}-values.yaml`]);
    expect(error).toBe('');
    const deployment = manifests.find((m) => m.kind === 'Deployment')!;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const secret: Record<string, string> = {
      MONGODB_URI: 'mongodb://mongo:27017/books',
      SYNC_SIGNING_KEYS: 'k1:0123456789abcdef0123456789abcdef',
      ...redisSecret,
    };
    const env: Record<string, string> = {};
    for (const e of container.env as { name: string; value?: string; valueFrom?: Rendered }[]) {
      expect(Object.keys(CONFIG_HELP)).toContain(e.name); // no variable the replica does not know
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom.fieldRef) env[e.name] = 'pod-name';
      else if (secret[e.valueFrom.secretKeyRef.key] !== undefined) env[e.name] = secret[e.valueFrom.secretKeyRef.key]!;
    }
    const config = loadConfig(env);
    const named = { standalone: 'REDIS_URL', sentinel: 'REDIS_SENTINELS', cluster: 'REDIS_CLUSTER_NODES' }[topology]!;
    expect(config[named as keyof typeof config]).toBeDefined();
    expect(container.env.some((e: { name: string }) => e.name === 'CHAOS_ENABLED')).toBe(false);
    // Probes, drain and hardening.
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    const preStop = container.lifecycle.preStop.sleep.seconds;
    expect(pod.terminationGracePeriodSeconds).toBe(preStop + Math.ceil(config.SHUTDOWN_TIMEOUT_MS / 1000) + 5);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('scrapes every pod as a `replica` and ships the committed dashboard', () => {
    const { manifests } = render(['ci/cluster-values.yaml']);
    const service = manifests.find((m) => m.kind === 'Service')!;
    const monitor = manifests.find((m) => m.kind === 'ServiceMonitor')!;
    const pods = manifests.find((m) => m.kind === 'Deployment')!.spec.template.metadata.labels;
    expect(monitor.spec.endpoints[0].port).toBe(service.spec.ports[0].name);
    expect(pods).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints[0].relabelings).toContainEqual({
      sourceLabels: ['__meta_kubernetes_pod_name'],
      targetLabel: 'replica',
    });
    const dashboard = manifests.find((m) => m.kind === 'ConfigMap')!;
    expect(dashboard.data['local-cache-sync.json']).toBe(
      readFileSync(join(ROOT, 'dashboards/local-cache-sync.json'), 'utf8').trimEnd(),
    );
  });

  it.each([
    [[], [], /secrets\.existingSecret/],
    [['ci/standalone-values.yaml'], ['redis.topology=sentinel'], /needs redis\.sentinels/],
    [['ci/standalone-values.yaml'], ['redis.topology=cluster'], /needs redis\.clusterNodes/],
    [['ci/standalone-values.yaml'], ['syncMode=fast'], /syncMode/],
    [['ci/standalone-values.yaml'], ['channel=a b'], /channel/],
  ])('refuses values %j %j with a clear error', (values, set, message) => {
    const { manifests, error } = render(values, set);
    expect(manifests).toEqual([]);
    expect(error).toMatch(message);
  });
});
