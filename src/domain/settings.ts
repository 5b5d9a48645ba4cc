/** What lando's domain takes from the configuration file (config.md §2), in domain terms. */
export interface LandoSettings {
  /** `storageClassName` of created PVCs; undefined means the cluster default. */
  readonly storageClassName?: string;
  readonly baseStageDataVolumeSizeInG: number;
  /** Secret holding the DukeDS client config, mounted in the stage and save pods. */
  readonly dataStoreSecretName: string;
  /** Pre-existing PVC mounted read-only into the run_workflow pod. */
  readonly systemDataVolume?: { readonly volumeClaimName: string; readonly mountPath: string };
  readonly recordOutputProjectServiceAccount: string;
  /**
   * Optional extra label on every object and in every selector, so two installations can share
   * a namespace (W20). Undefined keeps the objects exactly as the original makes them.
   */
  readonly installationLabel?: { readonly key: string; readonly value: string };
}

export interface WatcherSettings {
  /** The failed pod's log is cut to its last this-many bytes before it is sent (W19). */
  readonly maxLogBytes: number;
  readonly installationLabel?: { readonly key: string; readonly value: string };
  /**
   * A container that cannot start (image pull, missing Secret) for this long fails its step
   * (W10). This and the next two default to DEFAULT_STUCK_POD_SETTINGS (stuck-pod-detector.ts).
   */
  readonly imagePullGraceMs?: number;
  /** A pod the scheduler cannot place for this long fails its step (W10). */
  readonly unschedulableGraceMs?: number;
  /** Interval of the scan for pods that cannot start. */
  readonly stuckPodScanMs?: number;
}

export const LANDO_SETTINGS = Symbol.for('lando-k8s.LandoSettings');
export const WATCHER_SETTINGS = Symbol.for('lando-k8s.WatcherSettings');
