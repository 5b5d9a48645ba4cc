import type { ResourceIdentity } from './api-status.js';
import type { FieldError } from './field-errors.js';
import type { KubeObject } from './kube-object.js';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';
export const PROPAGATION_POLICIES: readonly PropagationPolicy[] = ['Foreground', 'Background', 'Orphan'];

/**
 * One REST resource as the API server registers it: its names, the strategy flags of its
 * registry (what PUT and DELETE do), its selectable fields, and its admission/validation steps.
 */
export interface ResourceType extends ResourceIdentity {
  readonly version: string;
  /** `v1` or `<group>/<version>`. */
  readonly apiVersion: string;
  /** Lives outside namespaces (`/apis/<group>/<version>/<plural>/<name>`), like StorageClasses. */
  readonly clusterScoped: boolean;
  /** Has a `/status` subresource: the main resource ignores status writes, `/status` only takes them. */
  readonly hasStatus: boolean;
  /** Delete answers with the object (pods, PVCs) rather than a Status (`ReturnDeletedObject`). */
  readonly deleteReturnsObject: boolean;
  /** PUT of a missing object creates it (`AllowCreateOnUpdate`). */
  readonly allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is accepted (`AllowUnconditionalUpdate`). */
  readonly allowUnconditionalUpdate: boolean;
  /** What a delete without propagationPolicy does to dependents (`DefaultGarbageCollectionPolicy`). */
  readonly defaultPropagation: PropagationPolicy;
  /** Field selector labels beyond metadata.name/metadata.namespace. */
  readonly selectableFields: ReadonlySet<string>;
  readField(object: KubeObject, field: string): string | undefined;
  /** Type checks of the decoder; throws the 400 a real server answers, returns the schema's 422-kind errors. */
  checkSchema(body: KubeObject): FieldError[];
  /** Defaulting applied on every write, as the real decoder does. */
  applyDefaults(object: KubeObject): void;
  /** Create-time preparation of the registry strategy and admission plugins (status reset, generated labels, finalizers). */
  prepareForCreate(object: KubeObject): void;
  validate(object: KubeObject): FieldError[];
  validateUpdate(object: KubeObject, old: KubeObject): FieldError[];
}
