import { forbiddenError, invalidError } from './api-status.js';
import { invalid } from './field-errors.js';
import { isJsonObject } from './kube-object.js';

/**
 * What the authenticated client may do. Everything is allowed except the configured denials,
 * which both answer SelfSubjectAccessReviews (allowed: false) and fail the real requests with
 * the RBAC 403 a cluster returns, so a preflight `check` and the actual calls agree.
 */
export interface AccessAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** A denial; fields left out match anything. */
export interface AccessRule {
  readonly verb?: string;
  readonly group?: string;
  readonly resource?: string;
  readonly subresource?: string;
  readonly namespace?: string;
}

const SSAR = { group: 'authorization.k8s.io', plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview' };

function ruleMatches(rule: AccessRule, attributes: AccessAttributes): boolean {
  return (rule.verb === undefined || rule.verb === attributes.verb)
    && (rule.group === undefined || rule.group === attributes.group)
    && (rule.resource === undefined || rule.resource === attributes.resource)
    && (rule.subresource === undefined || rule.subresource === (attributes.subresource ?? ''))
    && (rule.namespace === undefined || rule.namespace === attributes.namespace);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export class AccessPolicy {
  private rules: AccessRule[];

  constructor(readonly user: string, rules: readonly AccessRule[] = []) {
    this.rules = [...rules];
  }

  setDenied(rules: readonly AccessRule[]): void {
    this.rules = [...rules];
  }

  allows(attributes: AccessAttributes): boolean {
    return !this.rules.some((rule) => ruleMatches(rule, attributes));
  }

  /** Throws the RBAC Forbidden Status for a denied request. */
  authorize(attributes: AccessAttributes): void {
    if (this.allows(attributes)) return;
    const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
    const scope = attributes.namespace ? ` in the namespace ${JSON.stringify(attributes.namespace)}` : ' at the cluster scope';
    throw forbiddenError(
      { group: attributes.group, plural: attributes.resource, kind: attributes.resource },
      attributes.name ?? '',
      `User ${JSON.stringify(this.user)} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.group)}${scope}`,
    );
  }

  /** Answers a POSTed SelfSubjectAccessReview. */
  review(body: unknown): Record<string, unknown> {
    const spec = isJsonObject(body) && isJsonObject(body.spec) ? body.spec : {};
    const attributes = isJsonObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
    const nonResource = isJsonObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
    if ((attributes === undefined) === (nonResource === undefined)) {
      throw invalidError(SSAR, '', [invalid('spec.resourceAttributes', 'null', 'exactly one of nonResourceAttributes or resourceAttributes must be specified')]);
    }
    const allowed = attributes === undefined || this.allows({
      verb: text(attributes.verb) ?? '',
      group: text(attributes.group) ?? '',
      resource: text(attributes.resource) ?? '',
      subresource: text(attributes.subresource),
      namespace: text(attributes.namespace),
      name: text(attributes.name),
    });
    return {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: allowed ? { allowed: true } : { allowed: false },
    };
  }
}
