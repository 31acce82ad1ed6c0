// hy.nn.models: ready-made networks, written the way their PyTorch originals are (a Module
// subclass whose fields are its layers), so that their parameter names are PyTorch's state_dict
// keys and weights move between the two by name.
import type { Device, DType } from '../dtype';
import { describe } from '../errors';
import { flatten, gelu, geluUnfused, relu } from '../ops';
import { checkOptions, tidy } from '../tensor';
import type { Tensor } from '../tensor';
import * as F from './functional';
import { Conv2d, Dropout, formatValue, Linear, Module } from './modules';

export type MnistActivation = 'relu' | 'gelu' | 'geluUnfused';

const ACTIVATIONS: Record<MnistActivation, (x: Tensor) => Tensor> = { relu, gelu: (x) => gelu(x), geluUnfused };

export interface MnistNetOptions {
  device?: Device;
  dtype?: DType;
  /**
   * The activation after conv1, conv2 and fc1: 'relu' (default, as PyTorch's example), 'gelu'
   * (the fused GELU: one kernel each way) or 'geluUnfused' (the same GELU as five elementwise
   * kernels, the fused one's baseline).
   */
  activation?: MnistActivation;
}

/**
 * The network of PyTorch's examples/mnist (`Net`): two 3x3 convolutions (1 -> 32 -> 64, stride 1),
 * ReLU after each, 2x2 max pooling, dropout 0.25, flatten, fc1 9216 -> 128, ReLU, dropout 0.5,
 * fc2 128 -> 10 and log-softmax over the classes. Takes [N, 1, 28, 28], returns [N, 10]
 * log-probabilities (train it with nllLoss). Parameters, named as the example's state_dict:
 * conv1.weight, conv1.bias, conv2.weight, conv2.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias
 * (1,199,882 in all).
 *
 * @example
 * ```ts
 * const model = new hy.nn.models.MnistNet();
 * const logp = model.forward(hy.randn([64, 1, 28, 28])); // [64, 10]
 * const loss = hy.nn.functional.nllLoss(logp, hy.randint(10, [64]));
 * ```
 */
export class MnistNet extends Module {
  readonly activation: MnistActivation;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(opts?: MnistNetOptions) {
    super();
    const op = 'MnistNet';
    const o = checkOptions(op, opts, ['device', 'dtype', 'activation']) as MnistNetOptions;
    const activation = o.activation ?? 'relu';
    if (typeof activation !== 'string' || !Object.hasOwn(ACTIVATIONS, activation)) {
      throw new RangeError(`${op}: activation must be 'relu', 'gelu' or 'geluUnfused', got ${describe(activation)}`);
    }
    this.activation = activation;
    const factory = { device: o.device, dtype: o.dtype };
    // Assigned in the example's order, which is the order of the parameters and of the printout.
    this.conv1 = new Conv2d(1, 32, 3, { stride: 1, ...factory });
    this.conv2 = new Conv2d(32, 64, 3, { stride: 1, ...factory });
    this.dropout1 = new Dropout(0.25);
    this.dropout2 = new Dropout(0.5);
    this.fc1 = new Linear(9216, 128, factory);
    this.fc2 = new Linear(128, 10, factory);
  }

  forward(x: Tensor): Tensor {
    const act = ACTIVATIONS[this.activation];
    // The intermediates are freed at the end; autograd keeps what the backward needs.
    return tidy(() => {
      let h = act(this.conv1.forward(x));
      h = act(this.conv2.forward(h));
      h = F.maxPool2d(h, 2);
      h = this.dropout1.forward(h);
      h = flatten(h, 1);
      h = act(this.fc1.forward(h));
      h = this.dropout2.forward(h);
      h = this.fc2.forward(h);
      return F.logSoftmax(h, 1);
    });
  }

  override extraRepr(): string {
    return this.activation === 'relu' ? '' : `activation=${formatValue(this.activation)}`;
  }
}
