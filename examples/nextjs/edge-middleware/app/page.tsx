export default function Home() {
  return (
    <main>
      <h1>Phylax in Next.js: edge middleware.ts</h1>
      <ul>
        <li><code>GET /api/records/:id</code>: authorized by <code>middleware.ts</code> on the edge runtime (JWT or <code>x-api-key</code>)</li>
      </ul>
    </main>
  );
}
