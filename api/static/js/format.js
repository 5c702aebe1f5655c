// Formatting helpers shared by the dashboard views: numbers, ages, times, DOM building.

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function num(value) {
  return value === null || value === undefined ? "–" : numberFormat.format(value);
}

// A latency in milliseconds, in the unit a person reads it in ("240 ms", "6.5 s", "50 min").
export function ms(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 90_000) return duration(value / 1000);
  if (value >= 10_000) return `${(value / 1000).toFixed(0)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.round(value)} ms`;
}

// A duration in seconds, in the unit a planner reads it in (transfers take hours or days).
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

export function age(iso, now = Date.now()) {
  if (!iso) return "no events yet";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const moneyFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

// An amount of money in the master data's currency, grouped: "56,668.65".
export function money(value) {
  return value === null || value === undefined ? "–" : moneyFormat.format(value);
}

// Text written by the twin (alert explanations) as a person reads it: amounts grouped
// ("worth 56668.65" → "worth 56,668.65", counts "1190" → "1,190") and ISO instants as dates
// and times ("2026-11-26T10:42:05+00:00" → "26 Nov, 10:42:05"). Years and ids stay as they are.
export function prose(text) {
  if (!text) return text;
  return String(text)
    .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, (iso) => dateTime(iso))
    .replace(/(^|[^\w.\-:])(\d{5,}(?:\.\d+)?|\d{4}\.\d+)(?![\w\-:])/g, (_, before, digits) => {
      const value = Number(digits);
      const decimals = digits.includes(".") ? digits.split(".")[1].length : 0;
      const formatted = new Intl.NumberFormat(undefined, { minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(value);
      return before + formatted;
    });
}

// A date and time without the year or zone noise: "26 Nov, 10:42:05".
export function dateTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const day = at.toLocaleDateString([], { day: "numeric", month: "short" });
  return `${day}, ${clock(iso)}`;
}

export function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// Builds an element; children may be strings (text nodes, never parsed as HTML) or elements.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Sets a cell's text and flashes it when the value changed, so operators see what moved.
export function setAnimated(node, text) {
  if (node.textContent === text) return;
  const hadValue = node.textContent !== "" && node.textContent !== "–";
  node.textContent = text;
  if (hadValue) {
    node.classList.remove("changed");
    void node.offsetWidth; // restart the animation
    node.classList.add("changed");
  }
}
