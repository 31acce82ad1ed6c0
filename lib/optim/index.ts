// hy.optim: fused multi-tensor optimizers (one launch per parameter group per step, on CPU and
// CUDA), their shared base with parameter groups and state dicts, and the learning-rate schedulers.
export { Optimizer } from './optimizer';
export type { OptimizerStateDict, ParamGroup, ParamGroupInput, ParamsInput } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { Adam, AdamW } from './adam';
export type { AdamOptions } from './adam';
export { Adadelta } from './adadelta';
export type { AdadeltaOptions } from './adadelta';
export { LAMB } from './lamb';
export type { LAMBOptions } from './lamb';
export { LARS } from './lars';
export type { LARSOptions } from './lars';
export { LRScheduler, StepLR, MultiStepLR, ExponentialLR, LinearLR, CosineAnnealingLR, OneCycleLR, LambdaLR, SequentialLR, ChainedScheduler, warmupCosine } from './lr_scheduler';
export type {
  SchedulableOptimizer, SchedulerState, StepLROptions, MultiStepLROptions, ExponentialLROptions, LinearLROptions,
  CosineAnnealingLROptions, OneCycleLROptions, LambdaLROptions, SequentialLROptions, WarmupCosineOptions,
} from './lr_scheduler';
/** PyTorch's spelling: hy.optim.lrScheduler.StepLR as torch.optim.lr_scheduler.StepLR. */
export * as lrScheduler from './lr_scheduler';
