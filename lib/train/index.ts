// hy.train: ready-made training loops over the library's modules, loaders and optimizers.
export { trainEpoch, evaluate } from './loop';
export type { TrainEpochOptions, EpochResult, EvalResult, EvaluateOptions } from './loop';
export { fit } from './fit';
export type { FitOptions, FitResult, FitScheduler } from './fit';
export type { EpochReport, ProgressMode } from './progress';
