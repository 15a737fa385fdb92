// Lists the signed-in user's projects and refreshes itself every few seconds.
"use strict";

const tokenKey = "loupe.token";

function takeTokenFromLink() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(tokenKey, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text; // never innerHTML: names are user input
  if (className) td.className = className;
  return td;
}

async function refresh() {
  const token = localStorage.getItem(tokenKey);
  const signin = document.getElementById("signin");
  const error = document.getElementById("error");
  const table = document.getElementById("projects");
  if (!token) { signin.hidden = false; table.hidden = true; return; }
  try {
    const response = await fetch("/api/projects", { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) { localStorage.removeItem(tokenKey); signin.hidden = false; table.hidden = true; }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      error.textContent = problem.detail || `The server answered ${response.status}.`;
      return;
    }
    const rows = (await response.json()).map((project) => {
      const tr = document.createElement("tr");
      tr.dataset.projectId = project.id;
      tr.append(cell(project.name), cell(project.taskType.replaceAll("_", " ")),
        cell(project.status, "status"), cell(new Date(project.createdAt).toLocaleString()));
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = false; signin.hidden = true; error.textContent = "";
  } catch (e) {
    error.textContent = "Loupe is not reachable; retrying…";
  }
}

document.getElementById("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(tokenKey, document.getElementById("token").value.trim());
  refresh();
});

takeTokenFromLink();
refresh();
setInterval(refresh, 3000);
