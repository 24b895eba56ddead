// SQL and Lua live in their own files (STYLE.md §7) and are bundled as strings at build time.
declare module '*.sql' {
  const text: string;
  export default text;
}
declare module '*.lua' {
  const text: string;
  export default text;
}
