import type { ReactNode } from 'react';

export const metadata = { title: 'Phylax in Next.js: edge middleware.ts' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
