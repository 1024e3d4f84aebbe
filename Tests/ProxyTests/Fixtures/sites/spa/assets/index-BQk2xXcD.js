document.getElementById("root").textContent = location.pathname;
