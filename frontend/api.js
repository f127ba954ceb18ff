// Renders the API's OpenAPI 3 description (GET {apiUrl}/openapi.json) as a plain reference page.
const main = document.getElementById('reference');

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split('/').pop()];
  return schema || {};
}

function describeSchema(schema) {
  const parts = [schema.type || 'object'];
  if (schema.format) parts.push(schema.format);
  if (schema.pattern) parts.push(`pattern ${schema.pattern}`);
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.enum) parts.push(`one of ${schema.enum.join(', ')}`);
  if (schema.default !== undefined) parts.push(`default ${schema.default}`);
  return parts.join(', ');
}

function operation(spec, path, method, op) {
  const section = el('section', { class: 'operation', id: `${method}-${path}` });
  section.append(el('h2', {}, `${method.toUpperCase()} ${path}`), el('p', {}, op.summary || ''));
  if (op.security && op.security.length) section.append(el('p', {}, 'Needs an API key in the x-api-key header.'));
  if (op.parameters?.length) {
    const table = el('table', {}, el('tr', {}, el('th', {}, 'parameter'), el('th', {}, 'in'),
      el('th', {}, 'schema'), el('th', {}, 'description')));
    for (const p of op.parameters) {
      table.append(el('tr', {}, el('td', {}, el('code', {}, p.name)), el('td', {}, p.in),
        el('td', {}, describeSchema(p.schema || {})), el('td', {}, p.description || '')));
    }
    section.append(table);
  }
  if (op.requestBody) {
    section.append(el('p', {}, `Body (${Object.keys(op.requestBody.content).join(' or ')}): ${op.requestBody.description || ''}`));
  }
  const responses = el('dl', { class: 'responses' });
  for (const [status, answer] of Object.entries(op.responses)) {
    const types = Object.keys(answer.content || {}).join(', ');
    const example = answer.content?.['application/json']?.example;
    responses.append(el('dt', {}, `${status}${types ? ` (${types})` : ''}`),
      el('dd', {}, answer.description || '', example ? el('pre', {}, JSON.stringify(example)) : ''));
  }
  section.append(el('h3', {}, 'Answers'), responses);
  return section;
}

async function render() {
  let apiUrl = '';
  try { apiUrl = (await (await fetch('config.json', { cache: 'no-store' })).json()).apiUrl || ''; } catch { /* none */ }
  const url = `${apiUrl.replace(/\/+$/, '')}/openapi.json`;
  document.getElementById('spec-link').href = url;
  try {
    const spec = await (await fetch(url)).json();
    main.replaceChildren(el('p', {}, `${spec.info.title} ${spec.info.version}: ${spec.info.description}`));
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) main.append(operation(spec, path, method, op));
    }
    const schemas = el('section', {}, el('h2', {}, 'Schemas'));
    for (const [name, schema] of Object.entries(spec.components.schemas)) {
      schemas.append(el('h3', {}, name), el('pre', {}, JSON.stringify(resolve(spec, schema), null, 2)));
    }
    main.append(schemas);
    document.body.dataset.ready = 'true';
  } catch (err) {
    main.replaceChildren(el('p', { role: 'alert' }, `Could not load ${url}: ${err.message}`));
  }
}

render();
