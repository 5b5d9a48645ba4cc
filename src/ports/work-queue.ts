import type { Delivery, LandoMessage } from '../domain/commands.js';

/** What becomes of a delivery once its handler is done. */
export type Disposition =
  | { readonly outcome: 'ack' }
  /** Put it back at the end of the queue with its attempt count raised (dead-lettered past the limit). */
  | { readonly outcome: 'retry'; readonly reason: string }
  /** Not handled at all (the job is busy elsewhere): put it back at the end without counting an attempt. */
  | { readonly outcome: 'defer'; readonly reason: string }
  /** It can never be handled: dead-letter it with the reason. */
  | { readonly outcome: 'reject'; readonly reason: string };

export type DeliveryHandler = (delivery: Delivery) => Promise<Disposition>;

/**
 * lando's command queue. A delivery is settled only after its handler returned; one that
 * cannot be decoded is dead-lettered by the adapter without reaching the handler.
 */
export interface WorkQueueConsumer {
  start(handler: DeliveryHandler): Promise<void>;
  /** Stops taking new deliveries; the ones in flight still settle. */
  stop(): Promise<void>;
}

/** Sends commands to lando's queue, as the watcher and bespin-api do. */
export interface LandoClient {
  send(message: Omit<LandoMessage, 'version'>): Promise<void>;
}

export const WORK_QUEUE_CONSUMER = Symbol.for('lando-k8s.WorkQueueConsumer');
export const LANDO_CLIENT = Symbol.for('lando-k8s.LandoClient');
