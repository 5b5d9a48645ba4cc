/**
 * Domain cluster objects as Kubernetes API request bodies, field for field what the original
 * Python client sent (kubernetes.md §5-§7): no apiVersion/kind, unset fields omitted, `args`
 * and `env` always present. Every array and map is copied so a client library that mutates
 * request bodies cannot reach back into domain objects.
 */
import type {
  ClusterObject,
  ConfigMapObject,
  Container,
  EnvVar,
  JobObject,
  ObjectMeta,
  PvcObject,
  Volume,
} from '../../domain/cluster-objects.js';

export type ApiBody = Record<string, unknown>;

export function toApiBody(object: ClusterObject): ApiBody {
  switch (object.kind) {
    case 'PersistentVolumeClaim':
      return pvcBody(object);
    case 'ConfigMap':
      return configMapBody(object);
    case 'Job':
      return jobBody(object);
  }
}

function metadataBody(metadata: ObjectMeta): ApiBody {
  return { name: metadata.name, labels: { ...metadata.labels } };
}

function pvcBody(pvc: PvcObject): ApiBody {
  return {
    metadata: metadataBody(pvc.metadata),
    spec: {
      accessModes: [...pvc.accessModes],
      resources: { requests: { storage: pvc.storage } },
      ...(pvc.storageClassName === undefined ? {} : { storageClassName: pvc.storageClassName }),
    },
  };
}

function configMapBody(configMap: ConfigMapObject): ApiBody {
  return { metadata: metadataBody(configMap.metadata), data: { ...configMap.data } };
}

function jobBody(job: JobObject): ApiBody {
  const { template } = job;
  return {
    metadata: metadataBody(job.metadata),
    spec: {
      template: {
        metadata: metadataBody(template.metadata),
        spec: {
          containers: [containerBody(template.container)],
          volumes: template.volumes.map(volumeBody),
          restartPolicy: 'Never',
          ...(template.serviceAccountName === undefined ? {} : { serviceAccountName: template.serviceAccountName }),
        },
      },
    },
  };
}

function containerBody(container: Container): ApiBody {
  return {
    name: container.name,
    image: container.image,
    command: [...container.command],
    args: [...container.args],
    ...(container.workingDir === undefined ? {} : { workingDir: container.workingDir }),
    env: container.env.map(envVarBody),
    resources: { requests: { memory: container.requests.memory, cpu: container.requests.cpu } },
    volumeMounts: container.volumeMounts.map((mount) => ({ name: mount.name, mountPath: mount.mountPath })),
  };
}

function envVarBody(envVar: EnvVar): ApiBody {
  if ('value' in envVar) return { name: envVar.name, value: envVar.value };
  return { name: envVar.name, valueFrom: { fieldRef: { fieldPath: envVar.fieldPath } } };
}

function volumeBody(volume: Volume): ApiBody {
  const { source } = volume;
  switch (source.type) {
    case 'pvc':
      return { name: volume.name, persistentVolumeClaim: { claimName: source.claimName, readOnly: source.readOnly } };
    case 'configMap':
      return {
        name: volume.name,
        configMap: { name: source.configMapName, items: source.items.map((item) => ({ key: item.key, path: item.path })) },
      };
    case 'secret':
      return { name: volume.name, secret: { secretName: source.secretName } };
  }
}
