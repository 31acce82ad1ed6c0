export * as functional from './functional';
export * as models from './models';
export { Module, Sequential, ModuleList, Linear, Conv2d, ReLU, GELU, Flatten, Dropout, MaxPool2d, BatchNorm1d, BatchNorm2d, LogSoftmax, Softmax, CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, SmoothL1Loss } from './modules';
export type { StateDict, LoadStateDictOptions, FactoryOptions, LinearOptions, Conv2dModuleOptions, BatchNormModuleOptions } from './modules';
export type { MnistNetOptions, MnistActivation } from './models';
export type { Reduction, LossOptions, MaxPool2dOptions, BatchNormOptions, DropoutOptions, Conv2dOptions } from './functional';
