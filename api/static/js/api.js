// REST client of the twin API: every call carries the signed-in token as a Bearer header.

export class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class ApiClient {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(response.status, await errorText(response));
    }
    if (!response.ok) {
      throw new Error(`${method} ${path}: ${response.status} ${await errorText(response)}`);
    }
    return response.json();
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  // Images behind auth cannot use <img src> (no header): fetch them and hand back a blob URL.
  async blobUrl(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return URL.createObjectURL(await response.blob());
  }

  // The WebSocket URL for a path, with the token as query parameter (browsers cannot set headers).
  wsUrl(path, params = {}) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: this.token });
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) query.set(key, value);
    }
    return `${scheme}://${location.host}${path}?${query}`;
  }
}

async function errorText(response) {
  try {
    const data = await response.json();
    // A 422 lists every problem with its field (e.g. an uploaded scenario's `spec.demand`).
    const problems = Array.isArray(data.errors) ? data.errors.map((e) => `${e.field}: ${e.message}`) : [];
    if (typeof data.detail === "string") return [data.detail, ...problems].join("; ");
    return JSON.stringify(data.detail ?? data);
  } catch {
    return response.statusText;
  }
}
