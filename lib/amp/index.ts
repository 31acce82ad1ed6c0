// hy.amp: automatic mixed precision (the seed's tips 3.3-3.4): autocast regions that run the
// matrix ops in float16 and the precision-sensitive ones in float32, and the GradScaler that keeps
// float16 gradients from underflowing, its state on the device.
export * from './autocast';
export { GradScaler } from './grad_scaler';
export type { GradScalerOptions, GradScalerStateDict, Steppable } from './grad_scaler';
