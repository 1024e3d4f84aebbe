// DOM building: elements from tags and the page's <template>s. Strings always
// become text nodes, never HTML.

/** Creates an element; children are nodes or strings (as text, never HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A copy of the content of the page's <template id="`id`">. */
export function template(id) {
  return document.getElementById(id).content.cloneNode(true);
}
