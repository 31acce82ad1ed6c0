export * as functional from './functional';
