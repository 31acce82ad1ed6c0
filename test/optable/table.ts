// The op table: one entry per public op (or per form of one, e.g. a number on either side of
// sub), concatenated from one file per family. test/optable.test.ts drives every entry on every
// backend and checks that together they reach every registered native op and enum value.
import { CREATION } from './creation';
import { ELEMENTWISE } from './elementwise';
import type { OpEntry } from './entry';
import { INTEGER } from './integer';
import { LINALG } from './linalg';
import { LOSS } from './loss';
import { NN } from './nn';
import { OPTIM } from './optim';
import { REDUCTION } from './reduction';
import { SHAPE } from './shape';

export const TABLE: OpEntry[] = [...ELEMENTWISE, ...REDUCTION, ...LINALG, ...NN, ...CREATION, ...OPTIM, ...SHAPE, ...INTEGER, ...LOSS];
