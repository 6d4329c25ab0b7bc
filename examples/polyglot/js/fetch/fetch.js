// `get(url)`: one HTTP GET through the engine's `fetch()`, which needs `wasi:http`.
// Built with componentize-js's default features (see build.mjs).

export async function get(url) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw `GET ${url}: ${e}`;
  }
  return { status: res.status, body: await res.text() };
}
