// hy.nn.functional: the functional forms of the layers, named as in torch.nn.functional.
// Each op checks its arguments (errors name the op and the value), calls one native kernel, and
// records a backward that calls the kernel's backward. One file per family, so adding an op
// touches one small file; this index is the whole public surface.
export * from './activation';
export { linear } from '../../linalg';
export { nllLoss, crossEntropy, mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropy, binaryCrossEntropyWithLogits } from './loss';
export type { Reduction, LossOptions, SmoothL1Options } from './loss';
export { maxPool2d, maxPool2dWithIndices } from './pooling';
export type { MaxPool2dOptions } from './pooling';
export { batchNorm } from './norm';
export type { BatchNormOptions } from './norm';
export { conv2d } from './conv';
export type { Conv2dOptions } from './conv';
export { dropout } from './dropout';
export type { DropoutOptions } from './dropout';
