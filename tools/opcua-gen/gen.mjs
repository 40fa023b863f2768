// gen.mjs - generates the type descriptors, status codes and NodeIds of libfieldplane-opcua.
//
// Inputs (from the pinned npm packages in package.json, see package-lock.json):
//   Opc.Ua.Types.bsd            the structures and enumerations of the specification
//   NodeIds (node-opcua-constants, generated from NodeIds.csv)   DataType and encoding ids
//   StatusCodes (node-opcua-status-code, from StatusCode.csv)     names, values, texts
// Outputs (committed, so that the normal build needs neither node nor this script):
//   lib/opcua/include/opcua/ua_types_gen.h    C types, type indexes, _init/_clear/_copy
//   lib/opcua/gen/ua_types_gen.c              descriptors and lookup tables
//   lib/opcua/include/opcua/ua_statuscodes.h  UA_STATUS_* constants
//   lib/opcua/gen/ua_statuscodes_gen.c        name/description table
//   lib/opcua/include/opcua/ua_nodeids.h      UA_NS0ID_* constants of namespace 0
//
// Run: cd tools/opcua-gen && npm ci && node gen.mjs   (formats its outputs with clang-format)

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const nm = path.join(here, "node_modules");
const bsd = fs.readFileSync(path.join(nm, "node-opcua-nodesets/nodesets/Opc.Ua.Types.bsd"), "utf8");
const nodeIdsTs = fs.readFileSync(path.join(nm, "node-opcua-constants/source/opcua_node_ids.ts"), "utf8");
const statusTs = fs.readFileSync(
    path.join(nm, "node-opcua-status-code/source/_generated_status_codes.ts"), "utf8");

// ------------------------------------------------------------------------ names
function snake(name) {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
        .toLowerCase();
}
const upper = (name) => snake(name).toUpperCase();
const cKeywords = new Set(("auto break case char const continue default do double else enum extern " +
    "float for goto if inline int long register restrict return short signed sizeof static struct " +
    "switch typedef union unsigned void volatile while bool true false").split(" "));
function fieldName(name) {
    const s = snake(name);
    return cKeywords.has(s) ? s + "_" : s;
}

// ------------------------------------------------------------------------ node ids
const nodeIds = new Map(); // "ReadRequest_Encoding_DefaultBinary" -> 631 (first wins)
const nodeIdGroups = [];
for (const m of nodeIdsTs.matchAll(/export enum (\w+) \{([^}]*)\}/g)) {
    const group = m[1];
    for (const e of m[2].matchAll(/(\w+)=\s*(\d+)\s*,/g)) {
        if (!nodeIds.has(e[1])) nodeIds.set(e[1], Number(e[2]));
        nodeIdGroups.push([group, e[1], Number(e[2])]);
    }
}

// ------------------------------------------------------------------------ builtins
// name in the schema, C type, kind (= builtin id), min encoded size, pointer free, UPPER
const builtins = [
    ["Boolean", "ua_boolean", 1, 1, true],
    ["SByte", "ua_sbyte", 4 - 3 + 1, 1, true],
    ["Byte", "ua_byte", 3, 1, true],
    ["Int16", "ua_int16", 4, 2, true],
    ["UInt16", "ua_uint16", 5, 2, true],
    ["Int32", "ua_int32", 6, 4, true],
    ["UInt32", "ua_uint32", 7, 4, true],
    ["Int64", "ua_int64", 8, 8, true],
    ["UInt64", "ua_uint64", 9, 8, true],
    ["Float", "ua_float", 10, 4, true],
    ["Double", "ua_double", 11, 8, true],
    ["String", "ua_string", 12, 4, false],
    ["DateTime", "ua_datetime", 13, 8, true],
    ["Guid", "ua_guid", 14, 16, true],
    ["ByteString", "ua_bytestring", 15, 4, false],
    ["XmlElement", "ua_xml_element", 16, 4, false],
    ["NodeId", "ua_node_id", 17, 2, false],
    ["ExpandedNodeId", "ua_expanded_node_id", 18, 2, false],
    ["StatusCode", "ua_status_code", 19, 4, true],
    ["QualifiedName", "ua_qualified_name", 20, 6, false],
    ["LocalizedText", "ua_localized_text", 21, 1, false],
    ["ExtensionObject", "ua_extension_object", 22, 3, false],
    ["DataValue", "ua_data_value", 23, 1, false],
    ["Variant", "ua_variant", 24, 1, false],
    ["DiagnosticInfo", "ua_diagnostic_info", 25, 1, false],
];
const upperOf = { Boolean: "BOOLEAN", SByte: "SBYTE", Byte: "BYTE", Int16: "INT16", UInt16: "UINT16",
    Int32: "INT32", UInt32: "UINT32", Int64: "INT64", UInt64: "UINT64", Float: "FLOAT", Double: "DOUBLE",
    String: "STRING", DateTime: "DATETIME", Guid: "GUID", ByteString: "BYTESTRING",
    XmlElement: "XML_ELEMENT", NodeId: "NODE_ID", ExpandedNodeId: "EXPANDED_NODE_ID",
    StatusCode: "STATUS_CODE", QualifiedName: "QUALIFIED_NAME", LocalizedText: "LOCALIZED_TEXT",
    ExtensionObject: "EXTENSION_OBJECT", DataValue: "DATA_VALUE", Variant: "VARIANT",
    DiagnosticInfo: "DIAGNOSTIC_INFO" };
builtins[1][2] = 2;
const builtinNames = new Set(builtins.map((b) => b[0]));
const skipNames = new Set([...builtinNames, "TwoByteNodeId", "FourByteNodeId", "NumericNodeId",
    "StringNodeId", "GuidNodeId", "ByteStringNodeId", "NodeIdType"]);
const opcMap = { Boolean: "Boolean", SByte: "SByte", Byte: "Byte", Int16: "Int16", UInt16: "UInt16",
    Int32: "Int32", UInt32: "UInt32", Int64: "Int64", UInt64: "UInt64", Float: "Float",
    Double: "Double", String: "String", CharArray: "String", DateTime: "DateTime", Guid: "Guid",
    ByteString: "ByteString" };

// ------------------------------------------------------------------------ schema
const types = new Map(); // name -> {name, kind: "builtin"|"enum"|"struct", ...}
for (const b of builtins)
    types.set(b[0], { name: b[0], kind: "builtin", ctype: b[1], id: b[2], min: b[3], pf: b[4] });

for (const m of bsd.matchAll(/<opc:EnumeratedType Name="(\w+)"([^>]*)>([\s\S]*?)<\/opc:EnumeratedType>/g)) {
    const name = m[1];
    if (skipNames.has(name)) continue;
    const bits = Number((/LengthInBits="(\d+)"/.exec(m[2]) || [0, 32])[1]);
    const values = [...m[3].matchAll(/<opc:EnumeratedValue Name="(\w+)" Value="(-?\d+)"/g)]
        .map((v) => [v[1], Number(v[2])]);
    types.set(name, { name, kind: "enum", bits, values, ctype: "ua_" + snake(name) });
}
for (const m of bsd.matchAll(/<opc:StructuredType Name="(\w+)"([^>]*)>([\s\S]*?)<\/opc:StructuredType>/g)) {
    const name = m[1];
    if (skipNames.has(name) || name === "XmlElement") continue;
    const fields = [];
    const lengthFields = new Set();
    for (const f of m[3].matchAll(/<opc:Field ([^>]*?)\/?>/g)) {
        const attr = Object.fromEntries([...f[1].matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
        if (attr.SwitchField || attr.TypeName === "opc:Bit")
            throw new Error(`${name}.${attr.Name}: optional fields and unions are not supported`);
        if (attr.LengthField) lengthFields.add(attr.LengthField);
        fields.push(attr);
    }
    const members = [];
    for (const f of fields) {
        if (lengthFields.has(f.Name)) continue;
        const [ns, tn] = f.TypeName.split(":");
        let tname;
        if (ns === "opc") tname = opcMap[tn];
        else tname = tn;
        if (!tname) throw new Error(`${name}.${f.Name}: unknown type ${f.TypeName}`);
        members.push({ name: f.Name, cname: fieldName(f.Name), type: tname, array: !!f.LengthField });
    }
    types.set(name, { name, kind: "struct", members, ctype: "ua_" + snake(name) });
}
const reserved = new Set(["ua_type", "ua_member", "ua_kind", "ua_status", "ua_decode_limits",
    "ua_string", "ua_variant", "ua_eo_encoding", "ua_node_id_type"]);
for (const t of types.values()) {
    if (t.kind !== "builtin" && reserved.has(t.ctype)) throw new Error(`name clash: ${t.ctype}`);
    for (const mb of t.members || [])
        if (!types.has(mb.type)) throw new Error(`${t.name}.${mb.name}: unknown type ${mb.type}`);
}

// Option sets narrower than 32 bits are encoded as Byte/UInt16; enums as Int32.
for (const t of types.values()) {
    if (t.kind === "enum") {
        if (t.bits === 32) { t.min = 4; t.pf = true; }
        else if (t.bits === 8) { t.alias = "Byte"; t.min = 1; t.pf = true; }
        else if (t.bits === 16) { t.alias = "UInt16"; t.min = 2; t.pf = true; }
        else throw new Error(`${t.name}: ${t.bits} bits`);
    }
}

// Order: builtins, enums, then structures so that embedded ones come first.
const order = builtins.map((b) => types.get(b[0]));
for (const t of types.values()) if (t.kind === "enum") order.push(t);
const done = new Set(order.map((t) => t.name));
function visit(t, stack) {
    if (done.has(t.name)) return;
    if (stack.has(t.name)) throw new Error(`cycle at ${t.name}`);
    stack.add(t.name);
    for (const mb of t.members) if (!mb.array) visit(types.get(mb.type), stack);
    stack.delete(t.name);
    done.add(t.name);
    order.push(t);
}
for (const t of types.values()) if (t.kind === "struct") visit(t, new Set());
// min encoded size and pointer freedom of structures, in dependency order
for (const t of order) {
    if (t.kind !== "struct") continue;
    t.min = 0;
    t.pf = true;
    for (const mb of t.members) {
        const mt = types.get(mb.type);
        t.min += mb.array ? 4 : mt.min;
        if (mb.array || !mt.pf) t.pf = false;
    }
}
order.forEach((t, i) => { t.index = i; t.upper = upperOf[t.name] || upper(t.name); });
const upperSeen = new Set();
for (const t of order) {
    if (upperSeen.has(t.upper)) throw new Error(`UPPER name clash ${t.upper}`);
    upperSeen.add(t.upper);
}

// ------------------------------------------------------------------------ output helpers
const banner = (what) => `/*\n * ${what}\n *\n * GENERATED by tools/opcua-gen/gen.mjs from the OPC UA schema files; do not edit.\n` +
    ` * Regenerate: cd tools/opcua-gen && npm ci && node gen.mjs\n */\n`;
const written = [];
function write(rel, text) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    written.push(p);
    console.log(`wrote ${rel}`);
}
const cstr = (s) => JSON.stringify(s).replace(/\\u([0-9a-f]{4})/g, (_, h) => `\\x${h}""`);
const ctypeOf = (t) => t.ctype;

// ------------------------------------------------------------------------ ua_types_gen.h
let h = banner("ua_types_gen.h - the C types and descriptor indexes of every OPC UA type.") + `
#ifndef UA_TYPES_GEN_H
#define UA_TYPES_GEN_H

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Index of each type in ua_types[]; UA_TYPE(READ_REQUEST) is its descriptor. */
enum {
`;
for (const t of order) h += `    UA_TYPE_IDX_${t.upper} = ${t.index},\n`;
h += `    UA_TYPE_COUNT = ${order.length}\n};\n\nextern const ua_type ua_types[UA_TYPE_COUNT];\n`;
h += `#define UA_TYPE(NAME) (&ua_types[UA_TYPE_IDX_##NAME])\n\n`;
h += "/* ---- enumerations (Int32 on the wire; option sets of 8/16 bits as Byte/UInt16) */\n\n";
for (const t of order) {
    if (t.kind !== "enum") continue;
    const base = t.alias === "Byte" ? "uint8_t" : t.alias === "UInt16" ? "uint16_t" : "int32_t";
    h += `typedef ${base} ${t.ctype};\n`;
    if (t.values.length) {
        h += "enum {\n";
        for (const [vn, vv] of t.values) {
            const lit = vv > 2147483647 ? `(int)0x${vv.toString(16)}u` : String(vv);
            h += `    UA_${t.upper}_${upper(vn)} = ${lit},\n`;
        }
        h += "};\n";
    }
    h += "\n";
}
h += "/* ---- structures */\n\n";
for (const t of order) if (t.kind === "struct") h += `typedef struct ${t.ctype} ${t.ctype};\n`;
h += "\n";
for (const t of order) {
    if (t.kind !== "struct") continue;
    h += `struct ${t.ctype} {\n`;
    if (!t.members.length) h += "    uint8_t unused; /* no fields */\n";
    for (const mb of t.members) {
        const mt = types.get(mb.type);
        if (mb.array) h += `    size_t ${mb.cname}_count;\n    ${ctypeOf(mt)} *${mb.cname};\n`;
        else h += `    ${ctypeOf(mt)} ${mb.cname};\n`;
    }
    h += "};\n";
}
h += "\n/* ---- _init/_clear/_copy of every type, and its ids */\n\n";
h += `#define UA_GEN_FUNCS_(T, IDX)                                                   \\
    static inline void T##_init(T *p)                                           \\
    {                                                                           \\
        memset(p, 0, sizeof *p);                                                \\
    }                                                                           \\
    static inline void T##_clear(T *p)                                          \\
    {                                                                           \\
        ua_clear(p, &ua_types[IDX]);                                            \\
    }                                                                           \\
    static inline ua_status T##_copy(const T *src, T *dst)                      \\
    {                                                                           \\
        return ua_copy(src, dst, &ua_types[IDX]);                               \\
    }
`;
for (const t of order) {
    if (t.kind === "enum") continue;
    h += `UA_GEN_FUNCS_(${t.ctype}, UA_TYPE_IDX_${t.upper})\n`;
}
h += "\n";
h += "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
write("lib/opcua/include/opcua/ua_types_gen.h", h);

// ------------------------------------------------------------------------ ua_types_gen.c
let c = banner("ua_types_gen.c - the descriptors of every OPC UA type and lookup tables.") + `
#include <stddef.h>

#include "opcua/ua_types.h"

`;
for (const t of order) {
    if (t.kind !== "struct" || !t.members.length) continue;
    c += `static const ua_member members_${t.ctype}[${t.members.length}] = {\n`;
    for (const mb of t.members) {
        const mt = types.get(mb.type);
        const off = mb.array ? `${mb.cname}_count` : mb.cname;
        c += `    {"${mb.name}", &ua_types[UA_TYPE_IDX_${mt.upper}], offsetof(${t.ctype}, ${off}), ${mb.array}},\n`;
    }
    c += "};\n";
}
for (const t of order) {
    if (t.kind !== "enum" || !t.values.length) continue;
    c += `static const ua_enum_value values_${t.ctype}[${t.values.length}] = {\n`;
    for (const [vn, vv] of t.values) c += `    {${vv}, "${vn}"},\n`;
    c += "};\n";
}
c += "\nconst ua_type ua_types[UA_TYPE_COUNT] = {\n";
for (const t of order) {
    const tid = nodeIds.get(t.name) ?? 0;
    const enc = t.kind === "struct" ? (nodeIds.get(`${t.name}_Encoding_DefaultBinary`) ?? 0) : 0;
    let kind;
    if (t.kind === "builtin") kind = t.id;
    else if (t.kind === "enum") kind = t.alias ? types.get(t.alias).id : "UA_KIND_ENUM";
    else kind = "UA_KIND_STRUCTURE";
    const members = t.kind === "struct" && t.members.length ? `members_${t.ctype}` : "NULL";
    const count = t.kind === "struct" ? t.members.length : 0;
    const ecount = t.kind === "enum" ? t.values.length : 0;
    const evalues = ecount ? `values_${t.ctype}` : "NULL";
    c += `    {"${t.name}", ${tid}, ${enc}, sizeof(${t.ctype}), ${t.min}, ${kind}, ${t.pf}, ${count}, ${members}, ${ecount}, ${evalues}},\n`;
}
c += "};\n\n";
const byEnc = order.filter((t) => t.kind === "struct" && nodeIds.get(`${t.name}_Encoding_DefaultBinary`))
    .map((t) => [nodeIds.get(`${t.name}_Encoding_DefaultBinary`), t.index]).sort((a, b) => a[0] - b[0]);
const byTid = order.filter((t) => nodeIds.get(t.name) !== undefined)
    .map((t) => [nodeIds.get(t.name), t.index]).sort((a, b) => a[0] - b[0]);
const byName = order.map((t) => t.index).sort((a, b) => (order[a].name < order[b].name ? -1 : 1));
c += `/* {id, type index} sorted by id, for binary search. */
const uint32_t ua_types_by_encoding_id[][2] = {
${byEnc.map((e) => `    {${e[0]}, ${e[1]}},`).join("\n")}
};
const size_t ua_types_by_encoding_id_count = ${byEnc.length};
const uint32_t ua_types_by_type_id[][2] = {
${byTid.map((e) => `    {${e[0]}, ${e[1]}},`).join("\n")}
};
const size_t ua_types_by_type_id_count = ${byTid.length};
/* Type indexes sorted by name. */
const uint16_t ua_types_by_name[] = {
${byName.map((i) => `    ${i}, /* ${order[i].name} */`).join("\n")}
};
const size_t ua_types_by_name_count = ${byName.length};
`;
write("lib/opcua/gen/ua_types_gen.c", c);

// ------------------------------------------------------------------------ status codes
const status = [];
for (const m of statusTs.matchAll(/name: "(\w+)",\s*value: (0x[0-9a-fA-F]+),\s*description: "((?:[^"\\]|\\.)*)"/g))
    status.push([m[1], Number(m[2]), m[3].replace(/\\'/g, "'")]);
if (status.length < 200) throw new Error("status codes not found");
const seenS = new Set();
let sh = banner("ua_statuscodes.h - the status codes of OPC UA (from StatusCode.csv).") +
    "\n#ifndef UA_STATUSCODES_H\n#define UA_STATUSCODES_H\n\n";
for (const [n, v] of status) {
    const u = upper(n);
    if (seenS.has(u)) continue;
    seenS.add(u);
    sh += `#define UA_STATUS_${u} 0x${v.toString(16).padStart(8, "0").toUpperCase()}u\n`;
}
sh += "\n#endif\n";
write("lib/opcua/include/opcua/ua_statuscodes.h", sh);
const sorted = [...new Map(status.map((s) => [s[1], s])).values()].sort((a, b) => a[1] - b[1]);
let sc = banner("ua_statuscodes_gen.c - names and descriptions of the OPC UA status codes.") + `
#include <stddef.h>
#include <stdint.h>

#include "ua_status_table.h"

const ua_status_entry ua_status_table[] = {
${sorted.map(([n, v, d]) => `    {0x${v.toString(16).padStart(8, "0").toUpperCase()}u, "${n}", ${cstr(d)}},`).join("\n")}
};
const size_t ua_status_table_count = ${sorted.length};
`;
write("lib/opcua/gen/ua_statuscodes_gen.c", sc);

// ------------------------------------------------------------------------ node ids
let nh = banner("ua_nodeids.h - numeric NodeIds of namespace 0 (from NodeIds.csv).") +
    "\n#ifndef UA_NODEIDS_H\n#define UA_NODEIDS_H\n\n";
const seenN = new Set();
for (const [, n, v] of nodeIdGroups) {
    const u = upper(n).replace(/__+/g, "_");
    if (seenN.has(u)) continue;
    seenN.add(u);
    nh += `#define UA_NS0ID_${u} ${v}\n`;
}
nh += "\n#endif\n";
write("lib/opcua/include/opcua/ua_nodeids.h", nh);
// Keep the tree formatted: the project's .clang-format applies to generated C too.
try {
    execFileSync("clang-format", ["-i", ...written], { cwd: root });
} catch (e) {
    console.warn(`clang-format failed (${e.message}); format the outputs by hand`);
}
console.log(`${order.length} types, ${sorted.length} status codes, ${seenN.size} node ids`);
