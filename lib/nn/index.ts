export * as functional from './functional';
export { Module, Sequential, Linear, ReLU, GELU, Flatten, Dropout, MaxPool2d, BatchNorm1d, BatchNorm2d, LogSoftmax } from './modules';
export type { StateDict, LoadStateDictOptions, FactoryOptions, LinearOptions, BatchNormModuleOptions } from './modules';
export type { Reduction, LossOptions, MaxPool2dOptions, BatchNormOptions, DropoutOptions } from './functional';
