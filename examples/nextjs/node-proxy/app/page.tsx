export default function Home() {
  return (
    <main>
      <h1>Phylax in Next.js: proxy.ts (Node.js) and a route handler</h1>
      <ul>
        <li><code>GET /api/records/:id</code>: authorized by <code>proxy.ts</code> (JWT or <code>x-api-key</code>)</li>
        <li><code>GET|PUT /api/records/:id/diagnosis</code>: a route handler that decides and decrypts or encrypts the field itself</li>
      </ul>
    </main>
  );
}
