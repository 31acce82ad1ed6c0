// hy.data: datasets, the MNIST digits, the IDX file format and the DataLoader.
export { BufferPool, Dataset, TensorDataset, defaultCollate } from './dataset';
export type { BufferAlloc, CollatedBatch, CollatedField, FieldDType, FieldSpec, Sample, SampleField, WorkerSource } from './dataset';
export { MNIST, MNIST_NORMALIZE, Normalize } from './mnist';
export type { MNISTOptions } from './mnist';
export { readIdx, writeIdx, parseIdx } from './idx';
export type { IdxArray, IdxData, IdxType } from './idx';
export { DataLoader, MAX_WORKERS, activeWorkers } from './dataloader';
export type { CollateFn, CollateSource, DataLoaderOptions } from './dataloader';
