/**
 * What one sweep job asks Batch for: 1 GPU, 4 vCPUs and memory below what ECS leaves of the smallest type's
 * 16 GiB (g4dn/g5/g6.xlarge register about 15.3 GiB), so every type of the compute environments fits a job and
 * the larger sizes pack several. Shared by the construct (lib/constructs/sweeps.ts) and the CLI (quota check).
 */
export const SWEEP_JOB_RESOURCES = { gpus: 1, vcpus: 4, memoryMiB: 14_336 } as const;
