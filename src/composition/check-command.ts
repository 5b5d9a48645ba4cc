/**
 * `check`: connects to RabbitMQ, bespin-api and the cluster with the configuration and reports,
 * one line each, what works and what does not, with the fix. The exit status is 0 when nothing
 * failed. Warnings (a question the credentials may not ask) and skipped checks do not fail.
 */
import type { AmqpConnection } from '../adapters/amqp/amqp-connection.js';
import { declareJobStatusExchange, declareQueueAsBespinApi, type DeclarationCheck } from '../adapters/amqp/amqp-preflight.js';
import { JOB_STATUS_EXCHANGE } from '../adapters/amqp/amqp-progress-publisher.js';
import { probeBespinToken, type BespinTokenCheck } from '../adapters/bespin/bespin-token-probe.js';
import type { CredentialCheck, K8sInspector, Presence } from '../adapters/k8s/k8s-inspector.js';
import { accessName, REQUIRED_ACCESS, requiredAccessOf, type AccessRole, type RequiredAccess } from '../adapters/k8s/required-access.js';
import { BespinPaths } from '../domain/bespin-paths.js';
import { TransientError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { ClientUsageError } from './client-errors.js';
import type { AppConfig } from './config.js';

type CheckStatus = 'ok' | 'FAIL' | 'warn' | 'skip';

interface CheckLine {
  readonly status: CheckStatus;
  readonly subject: string;
  readonly text: string;
  readonly fix?: string;
}

const ROLES: readonly AccessRole[] = ['lando', 'watcher'];
const RETRY_LATER = 'run check again once the API server answers';
const RBAC_FILES: Readonly<Record<AccessRole, string>> = { lando: 'deploy/rbac-lando.yaml', watcher: 'deploy/rbac-watcher.yaml' };

/** `ok    rabbitmq: logged in ...`, `FAIL  bespin-api: token rejected (...) — fix: ...`. */
function formatCheckLine(line: CheckLine): string {
  return `${line.status.padEnd(6)}${line.subject}: ${line.text}${line.fix === undefined ? '' : ` — fix: ${line.fix}`}\n`;
}

export async function checkCommand(
  config: AppConfig,
  words: readonly string[],
  checkFor: string | undefined,
  connection: AmqpConnection,
  logger: Logger,
  out: NodeJS.WritableStream,
): Promise<number> {
  if (words.length > 0) throw new ClientUsageError(`check takes no words, got ${JSON.stringify(words.join(' '))}`);
  const roles = rolesToCheck(checkFor);
  let failed = false;
  const report = (line: CheckLine): void => {
    failed ||= line.status === 'FAIL';
    out.write(formatCheckLine(line));
  };
  await checkBroker(config, connection, report);
  report(bespinLine(config, await probeBespinToken({ baseUrl: config.bespinApi.url, token: config.bespinApi.token })));
  await checkCluster(config, roles, logger, report);
  return failed ? 1 : 0;
}

function rolesToCheck(checkFor: string | undefined): readonly AccessRole[] {
  if (checkFor === undefined) return ROLES;
  const role = ROLES.find((candidate) => candidate === checkFor);
  if (role === undefined) throw new ClientUsageError(`--for must be lando or watcher, got ${JSON.stringify(checkFor)}`);
  return [role];
}

type Report = (line: CheckLine) => void;

async function checkBroker(config: AppConfig, connection: AmqpConnection, report: Report): Promise<void> {
  const queue = config.workQueue;
  const subject = 'rabbitmq';
  const where = `${queue.host}:${queue.port}${queue.vhost === '/' ? '' : ` (vhost ${queue.vhost})`}`;
  try {
    await connection.session();
  } catch (error) {
    const unreachable = error instanceof TransientError;
    report({
      status: 'FAIL',
      subject,
      text: `cannot log in to ${where} as ${queue.username}: ${(error as Error).message}`,
      fix: unreachable
        ? 'check work_queue.host, port and tls, and that RabbitMQ runs and is reachable from here'
        : 'check work_queue.username, password (or LANDO_WORK_QUEUE_PASSWORD) and vhost, and that the user may use the vhost',
    });
    report({ status: 'skip', subject, text: 'queues and the job_status exchange were not checked: no connection' });
    return;
  }
  report({ status: 'ok', subject, text: `logged in to ${where} as ${queue.username}` });
  const queueFix = (name: string) =>
    `drain and delete queue ${name} (rabbitmqctl delete_queue ${name}) and let it be declared again, or make whatever declares it differently declare it durable with no arguments`;
  const queueDeclaration = (name: string, declarer: string): Declaration => ({ entity: `queue ${name}`, declarer, flags: 'durable, no arguments', mismatchFix: queueFix(name) });
  report(declarationLine(await declareQueueAsBespinApi(connection, queue.listenQueue), queueDeclaration(queue.listenQueue, 'bespin-api')));
  report(declarationLine(await declareQueueAsBespinApi(connection, queue.deadLetterQueue), queueDeclaration(queue.deadLetterQueue, 'lando')));
  report(
    declarationLine(await declareJobStatusExchange(connection), {
      entity: `exchange ${JOB_STATUS_EXCHANGE}`,
      declarer: 'lando-messaging',
      flags: 'fanout, not durable',
      mismatchFix: `delete exchange ${JOB_STATUS_EXCHANGE} (rabbitmqadmin delete exchange name=${JOB_STATUS_EXCHANGE}) and let it be declared again; its subscribers re-bind when they reconnect`,
    }),
  );
}

/** A queue or exchange, who declares it how, and what to do when it exists otherwise. */
interface Declaration {
  readonly entity: string;
  readonly declarer: string;
  readonly flags: string;
  readonly mismatchFix: string;
}

function declarationLine(check: DeclarationCheck, { entity, declarer, flags, mismatchFix }: Declaration): CheckLine {
  const subject = 'rabbitmq';
  switch (check.outcome) {
    case 'declared':
      return { status: 'ok', subject, text: `declared ${entity} as ${declarer} does (${flags})` };
    case 'mismatch':
      return { status: 'FAIL', subject, text: `${entity} exists with other flags than ${declarer} declares it with (${flags}): ${check.detail}`, fix: mismatchFix };
    case 'refused':
      return { status: 'FAIL', subject, text: `may not declare ${entity}: ${check.detail}`, fix: 'give work_queue.username configure, write and read permissions on the vhost' };
    case 'failed':
      return { status: 'FAIL', subject, text: `could not declare ${entity}: ${check.detail}`, fix: 'see the broker\'s message; run check again once RabbitMQ is reachable' };
  }
}

function bespinLine(config: AppConfig, check: BespinTokenCheck): CheckLine {
  const subject = 'bespin-api';
  const url = config.bespinApi.url;
  switch (check.outcome) {
    case 'accepted':
      return { status: 'ok', subject, text: `${url} accepts the token of a staff user` };
    case 'rejected':
      return check.status === 401
        ? { status: 'FAIL', subject, text: `token rejected (401 ${check.detail})`, fix: 'set bespin_api.token (or LANDO_BESPIN_TOKEN) to a staff user\'s token' }
        : { status: 'FAIL', subject, text: `token refused (${check.status} ${check.detail})`, fix: 'make the token\'s user staff in bespin-api, or use a staff user\'s token' };
    case 'not-bespin':
      return { status: 'FAIL', subject, text: `${url} does not answer as bespin-api's v2 root (${check.detail})`, fix: 'set bespin_api.url to bespin-api\'s v2 root, e.g. https://bespin.example.org/api/v2' };
    case 'unreachable':
      return { status: 'FAIL', subject, text: `cannot reach ${url}: ${check.detail}`, fix: 'check bespin_api.url and that bespin-api is reachable from here' };
  }
}

async function checkCluster(config: AppConfig, roles: readonly AccessRole[], logger: Logger, report: Report): Promise<void> {
  const settings = config.clusterApiSettings;
  const subject = 'cluster';
  const server = settings.host ?? 'the in-cluster service account or kubeconfig';
  const skipRest = (why: string) => report({ status: 'skip', subject, text: `permissions, the data-store secret, storage class and system data volume were not checked: ${why}` });
  let inspector: K8sInspector;
  let version: string;
  try {
    const { inspectCluster } = await import('./operator-cluster.js');
    inspector = inspectCluster(config, logger);
    version = await inspector.serverVersion();
  } catch (error) {
    report({
      status: 'FAIL',
      subject,
      text: `cannot reach the API server (${server}): ${(error as Error).message}`,
      fix: 'check cluster_api_settings.host, verify_ssl and ssl_ca_cert, or the kubeconfig',
    });
    skipRest('no API server');
    return;
  }
  let credentials: CredentialCheck;
  try {
    credentials = await inspector.credentialsAccepted();
  } catch (error) {
    report({ status: 'FAIL', subject, text: `the API server ${server} (${version}) did not say whether it accepts the credentials: ${(error as Error).message}`, fix: RETRY_LATER });
    skipRest('the credentials could not be checked');
    return;
  }
  if (!credentials.accepted) {
    report({
      status: 'FAIL',
      subject,
      text: `the API server ${server} (${version}) rejects the credentials: ${credentials.detail}`,
      fix: settings.token === undefined
        ? 'give the pod a valid service account token, or the kubeconfig valid credentials'
        : 'set cluster_api_settings.token (or LANDO_CLUSTER_TOKEN) to a valid service account token',
    });
    skipRest('the credentials were rejected');
    return;
  }
  report({ status: 'ok', subject, text: `the API server ${server} (${version}) accepts the credentials` });
  for (const access of accessToReview(config, roles)) report(await accessLine(inspector, access, settings.namespace, roles));
  report(await dataStoreSecretLine(inspector, config));
  report(await storageClassLine(inspector, config));
  report(await systemDataVolumeLine(inspector, config));
}

/** In table order, the rows a checked role needs with the configured Lease features. */
function accessToReview(config: AppConfig, roles: readonly AccessRole[]): RequiredAccess[] {
  const leasesOn: Readonly<Record<AccessRole, boolean>> = { lando: config.lando.leases, watcher: config.watcher.leaderElection };
  const needed = new Set(roles.flatMap((role) => requiredAccessOf(role, leasesOn[role])));
  return REQUIRED_ACCESS.filter((access) => needed.has(access));
}

async function accessLine(inspector: K8sInspector, access: RequiredAccess, namespace: string, roles: readonly AccessRole[]): Promise<CheckLine> {
  const subject = 'rbac';
  const name = accessName(access);
  const neededBy = access.roles.filter((role) => roles.includes(role));
  let allowed: boolean;
  try {
    allowed = await inspector.allows(access);
  } catch (error) {
    return { status: 'FAIL', subject, text: `could not review ${name}: ${(error as Error).message}`, fix: RETRY_LATER };
  }
  if (allowed) return { status: 'ok', subject, text: `${name} allowed in namespace ${namespace}` };
  return {
    status: 'FAIL',
    subject,
    text: `${name} denied in namespace ${namespace}; ${neededBy.join(' and ')} need${neededBy.length === 1 ? 's' : ''} it: ${access.why}`,
    fix: `grant it in the Role bound to the service account (${neededBy.map((role) => RBAC_FILES[role]).join(', ')})`,
  };
}

async function dataStoreSecretLine(inspector: K8sInspector, config: AppConfig): Promise<CheckLine> {
  const name = config.dataStoreSettings.secretName;
  const namespace = config.clusterApiSettings.namespace;
  const key = BespinPaths.ddsClientConfigFile.slice(BespinPaths.ddsClientConfigMount.length + 1);
  return presenceLine(inspector.secret(name), {
    subject: 'data-store secret',
    what: `Secret ${name} in namespace ${namespace}`,
    missingFix: `create it from the DukeDS client configuration (kubectl create secret generic ${name} -n ${namespace} --from-file=${key}=<DukeDS config file>), or set data_store_settings.secret_name`,
    // lando's own Roles grant no Secret access: the stage and save pods mount it, lando never reads it.
    forbiddenCheck: `kubectl get secret ${name} -n ${namespace}`,
  });
}

async function storageClassLine(inspector: K8sInspector, config: AppConfig): Promise<CheckLine> {
  const name = config.storageClassName;
  const subject = 'storage class';
  if (name === undefined) return { status: 'skip', subject, text: 'storage_class_name is not set: the PVCs use the cluster\'s default StorageClass' };
  return presenceLine(inspector.storageClass(name), {
    subject,
    what: `StorageClass ${name}`,
    missingFix: 'set storage_class_name to one that `kubectl get storageclass` lists, or remove it to use the cluster\'s default',
    forbiddenCheck: `kubectl get storageclass ${name}`,
  });
}

async function systemDataVolumeLine(inspector: K8sInspector, config: AppConfig): Promise<CheckLine> {
  const volume = config.runWorkflowSettings.systemDataVolume;
  const subject = 'system data volume';
  if (volume === undefined) return { status: 'skip', subject, text: 'run_workflow_settings.system_data_volume is not set: run_workflow mounts none' };
  const namespace = config.clusterApiSettings.namespace;
  return presenceLine(inspector.claim(volume.volumeClaimName), {
    subject,
    what: `PersistentVolumeClaim ${volume.volumeClaimName} in namespace ${namespace}`,
    missingFix: `create it in namespace ${namespace}, or set run_workflow_settings.system_data_volume.volume_claim_name to an existing one`,
    forbiddenCheck: `kubectl get pvc ${volume.volumeClaimName} -n ${namespace}`,
  });
}

interface PresenceWording {
  readonly subject: string;
  readonly what: string;
  readonly missingFix: string;
  /** A command that tells, for whoever may. */
  readonly forbiddenCheck: string;
}

async function presenceLine(lookup: Promise<Presence>, wording: PresenceWording): Promise<CheckLine> {
  const { subject, what } = wording;
  let presence: Presence;
  try {
    presence = await lookup;
  } catch (error) {
    return { status: 'FAIL', subject, text: `could not look for ${what}: ${(error as Error).message}`, fix: RETRY_LATER };
  }
  switch (presence.state) {
    case 'present':
      return { status: 'ok', subject, text: `${what} exists` };
    case 'absent':
      return { status: 'FAIL', subject, text: `${what} does not exist`, fix: wording.missingFix };
    case 'forbidden':
      return { status: 'warn', subject, text: `cannot tell whether ${what} exists: these credentials may not read it (${presence.detail}); ask someone who may: ${wording.forbiddenCheck}` };
  }
}
