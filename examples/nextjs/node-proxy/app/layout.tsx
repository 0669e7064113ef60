import type { ReactNode } from 'react';

export const metadata = { title: 'Phylax in Next.js: proxy.ts and a route handler (Node.js)' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
