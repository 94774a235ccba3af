// Template file: updates (bin/update) replace it; README.md says where your changes go.
// The demo page: counts visits in the server-side session through the JSON API.
const output = document.querySelector("#visits");

async function call(method) {
  const response = await fetch("/api/visits", { method, credentials: "same-origin" });
  output.textContent = response.ok ? (await response.json()).visits : "unavailable";
}

document.querySelector("#count").addEventListener("click", () => call("POST"));
call("GET");
