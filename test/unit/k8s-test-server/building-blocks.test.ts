import { expect } from 'chai';
import { ApiError } from '../../../testservers/k8s/api-status.js';
import { EventHistory } from '../../../testservers/k8s/event-history.js';
import type { KubeObject } from '../../../testservers/k8s/kube-object.js';
import { dns1123LabelErrors, parseQuantity, qualifiedNameErrors } from '../../../testservers/k8s/name-rules.js';
import { jsonPatch, mergePatch } from '../../../testservers/k8s/patch.js';
import { window } from '../../../testservers/k8s/pod-logs.js';
import { FieldSelector, LabelSelector } from '../../../testservers/k8s/selectors.js';

function statusOf(action: () => unknown): { code: number; message?: string } {
  try {
    action();
  } catch (error) {
    if (error instanceof ApiError) return { code: error.code, message: error.status.message };
    throw error;
  }
  throw new Error('expected an ApiError');
}

const change = (resourceVersion: number): Parameters<EventHistory['push']>[0] => ({
  type: 'MODIFIED',
  resourceVersion,
  object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${resourceVersion}` } } satisfies KubeObject,
});

describe('K8s API test server: building blocks', () => {
  describe('LabelSelector', () => {
    const labels = { 'bespin-job': 'true', 'bespin-job-id': '42', tier: 'batch' };

    it('matches equality, inequality, set and existence requirements', () => {
      expect(LabelSelector.parse('bespin-job=true,bespin-job-id=42').matches(labels)).to.equal(true);
      expect(LabelSelector.parse('bespin-job-id==43').matches(labels)).to.equal(false);
      expect(LabelSelector.parse('bespin-job-id!=43').matches(labels)).to.equal(true);
      expect(LabelSelector.parse('tier in (batch, web),bespin-job').matches(labels)).to.equal(true);
      expect(LabelSelector.parse('tier notin (batch)').matches(labels)).to.equal(false);
      expect(LabelSelector.parse('!bespin-job-step').matches(labels)).to.equal(true);
      expect(LabelSelector.parse('bespin-job-id>41').matches(labels)).to.equal(true);
      expect(LabelSelector.parse('').matches(labels)).to.equal(true);
    });

    it('names the pairs every match must carry, for the store\'s label index', () => {
      expect(LabelSelector.parse('bespin-job=true,tier in (batch),x!=y').requiredPairs()).to.deep.equal([['bespin-job', 'true'], ['tier', 'batch']]);
    });

    it('rejects malformed selectors and invalid label values with 400', () => {
      expect(statusOf(() => LabelSelector.parse('a in (b'))).to.have.property('code', 400);
      expect(statusOf(() => LabelSelector.parse('a=b c')).message).to.match(/^unable to parse requirement: /);
      expect(statusOf(() => LabelSelector.parse('Bad Key=1')).code).to.equal(400);
    });
  });

  describe('FieldSelector', () => {
    it('matches =, == and != on supported fields and rejects unknown ones', () => {
      const supported = new Set(['involvedObject.name', 'type']);
      const read = (field: string) => ({ 'involvedObject.name': 'pod-a', type: 'Warning' })[field];
      expect(FieldSelector.parse('involvedObject.name=pod-a,type!=Normal', supported).matches(read)).to.equal(true);
      expect(FieldSelector.parse('involvedObject.name==pod-b', supported).matches(read)).to.equal(false);
      expect(statusOf(() => FieldSelector.parse('reason=x', supported))).to.deep.equal({ code: 400, message: 'field label not supported: reason' });
    });
  });

  describe('EventHistory', () => {
    it('keeps the last N changes and expires older resourceVersions', () => {
      const history = new EventHistory(3);
      for (const version of [11, 12, 13, 14, 15]) history.push(change(version));
      expect(history.length).to.equal(3);
      expect(history.compactedRevision).to.equal(12);
      expect(history.isExpired(11)).to.equal(true);
      expect(history.isExpired(12)).to.equal(false);
      expect(history.since(12).map((item) => item.resourceVersion)).to.deep.equal([13, 14, 15]);
      expect(history.since(14).map((item) => item.resourceVersion)).to.deep.equal([15]);
    });

    it('forgets everything on compaction', () => {
      const history = new EventHistory(10);
      history.push(change(5));
      history.compact(9);
      expect(history.since(0)).to.deep.equal([]);
      expect(history.isExpired(8)).to.equal(true);
      expect(history.isExpired(9)).to.equal(false);
    });
  });

  describe('patches', () => {
    it('merge patch: null deletes, objects merge, lists replace', () => {
      const document = { metadata: { annotations: { a: '1', b: '2' } }, list: [1, 2] };
      expect(mergePatch(document, { metadata: { annotations: { a: null, c: '3' } }, list: [3] })).to.deep.equal({
        metadata: { annotations: { b: '2', c: '3' } },
        list: [3],
      });
      expect(document.metadata.annotations).to.deep.equal({ a: '1', b: '2' });
    });

    it('JSON patch: add, replace, remove, move, copy and test, with 422 on a failed test or missing path', () => {
      const document = { metadata: { labels: { a: '1' } }, items: ['x', 'y'] };
      expect(jsonPatch(document, [
        { op: 'add', path: '/metadata/labels/b', value: '2' },
        { op: 'replace', path: '/items/0', value: 'z' },
        { op: 'add', path: '/items/-', value: 'w' },
        { op: 'remove', path: '/metadata/labels/a' },
        { op: 'copy', from: '/items/1', path: '/first' },
        { op: 'move', from: '/first', path: '/moved' },
        { op: 'test', path: '/moved', value: 'y' },
      ])).to.deep.equal({ metadata: { labels: { b: '2' } }, items: ['z', 'y', 'w'], moved: 'y' });
      expect(statusOf(() => jsonPatch(document, [{ op: 'test', path: '/items/0', value: 'q' }])).code).to.equal(422);
      expect(statusOf(() => jsonPatch(document, [{ op: 'remove', path: '/metadata/annotations/x' }])).code).to.equal(422);
    });
  });

  describe('name rules and quantities', () => {
    it('reports DNS-1123 label and qualified-name violations', () => {
      expect(dns1123LabelErrors('stage-data')).to.deep.equal([]);
      expect(dns1123LabelErrors('a'.repeat(64))).to.deep.equal(['must be no more than 63 characters']);
      expect(qualifiedNameErrors('example.com/name')).to.deep.equal([]);
      expect(qualifiedNameErrors('/name')).to.deep.equal(['prefix part must be non-empty']);
    });

    it('parses quantities with binary and decimal suffixes', () => {
      expect(parseQuantity('7Gi')).to.equal(7 * 2 ** 30);
      expect(parseQuantity('500m')).to.equal(0.5);
      expect(parseQuantity('1e3')).to.equal(1000);
      expect(parseQuantity(2)).to.equal(2);
      expect(parseQuantity('lots')).to.equal(undefined);
    });
  });

  describe('pod log window', () => {
    it('takes the last tailLines lines, then the first limitBytes bytes', () => {
      const text = 'one\ntwo\nthree';
      expect(window(text, {}).toString()).to.equal(text);
      expect(window(text, { tailLines: 2 }).toString()).to.equal('two\nthree');
      expect(window(text, { tailLines: 0 }).toString()).to.equal('');
      expect(window(text, { tailLines: 2, limitBytes: 5 }).toString()).to.equal('two\nt');
      expect(window('a\nb\n', { tailLines: 1 }).toString()).to.equal('b\n');
      expect(window('a\nb\n', { tailLines: 5 }).toString()).to.equal('a\nb\n');
    });

    it('keeps bytes that are not valid UTF-8 (W17)', () => {
      const bytes = Buffer.from([0x6f, 0x6b, 0x0a, 0xff, 0xfe, 0x0a]);
      expect(window(bytes, { tailLines: 1 })).to.deep.equal(Buffer.from([0xff, 0xfe, 0x0a]));
    });
  });
});
