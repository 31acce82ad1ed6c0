// hy.nn.functional: the functional forms of the layers, named as in torch.nn.functional.
export { gelu, geluUnfused, relu } from '../ops';
export type { GeluOptions } from '../ops';
export { linear } from '../linalg';
