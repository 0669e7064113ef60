// Your data: who each record belongs to (tenant, patient, the patient's care team). In an
// app this is a lookup in your database; the policies decide from it.
export interface RecordMeta {
  tenant: string;
  patient: string;
  providers: string[];
}

export const RECORDS: Record<string, RecordMeta> = {
  'rec-1': { tenant: 'acme', patient: 'pt-1', providers: ['dr-1'] },
  'rec-2': { tenant: 'acme', patient: 'pt-2', providers: ['dr-2'] },
  'rec-9': { tenant: 'globex', patient: 'pt-9', providers: ['dr-9'] },
};
