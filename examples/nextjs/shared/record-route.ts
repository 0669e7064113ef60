// The route behind proxy.ts / middleware.ts: it runs only for requests they allowed, and
// answers with the record's (non-PHI) metadata and the decision they forwarded.
import { RECORDS } from './records';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const record = RECORDS[id];
  if (!record) return Response.json({ error: { code: 'not_found' } }, { status: 404 });
  return Response.json({
    record: id,
    tenant: record.tenant,
    patient: record.patient,
    principal: request.headers.get('x-phylax-principal'),
    policies: (request.headers.get('x-phylax-policies') ?? '').split(',').filter(Boolean),
    bundleHash: request.headers.get('x-phylax-bundle'),
    handlerRuntime: process.env.NEXT_RUNTIME,
  });
}
