// hy.optim: optimizers. Fused multi-tensor kernels come with the optimizer family; SGD runs on the elementwise kernels.
export { Optimizer } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
