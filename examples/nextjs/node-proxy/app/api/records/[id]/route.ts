// Reached only through the guard in front of it (see the matcher), which decided already.
export { GET } from '../../../../../shared/record-route';

export const runtime = 'nodejs';
