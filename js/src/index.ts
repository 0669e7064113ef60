/** Types of the default entry: the API, loaded and ready on import. */
export * from './api.js';
