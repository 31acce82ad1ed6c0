// hayate: GPU training for Node.js. The public surface, named as PyTorch users expect.
import { OutOfMemoryError } from './errors';
import { native } from './native';

native.setErrorClasses({ OutOfMemoryError });

export { info } from './info';
export type { Info } from './info';
export { manualSeed, seedFromTime, initialSeed, getGeneratorState, setGeneratorState } from './random';
export { Tensor, tensor, empty, zeros, ones, full, rand, randn, tidy, keep, isTensor } from './tensor';
export type { TensorData, TensorOptions, ToOptions, ReadData, ShapeArgs } from './tensor';
export type { DType, Device } from './dtype';
export { OutOfMemoryError, DisposedError } from './errors';
export { add, sub, mul, div, floorDivide, remainder, pow, neg, exp, log, erf, sqrt, abs, tanh, sigmoid, relu, gelu, geluUnfused, sum, mean, reshape, flatten, detach, noGrad, broadcastShapes } from './ops';
export type { GeluOptions, ReduceOptions } from './ops';
export { matmul, linear } from './linalg';
export { permute, transpose, t, contiguous, squeeze, unsqueeze, expand, narrow, slice, select, cat, stack, split, chunk, indexSelect, index, gather, scatterAdd } from './indexing';
export { eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalXor, logicalNot, where, argmax, argmin, max, min, clamp, square, rsqrt } from './compare';
export type { ClampOptions, DimOptions, ValuesIndices } from './compare';
export { arange, linspace, eye, zerosLike, onesLike, emptyLike, fullLike, randLike, randnLike, randint, randperm } from './creation';
export { softmax, logSoftmax } from './nn/functional/activation';
import './methods';
export { isGradEnabled, enableGrad, setGradEnabled } from './autograd';
export type { BackwardOptions } from './autograd';
export * as nn from './nn/index';
export * as backends from './backends/index';
export * as memory from './memory';
export * as cuda from './cuda';
export * as cpu from './cpu';
export * as data from './data/index';
export * as optim from './optim/index';
export * as amp from './amp/index';
export * as train from './train/index';
export * as serialize from './serialize/index';
export { save, load } from './serialize/index';
