// Lua and SQL files are imported as text so the compiled binary carries them.
declare module "*.lua" {
  const text: string;
  export default text;
}
declare module "*.sql" {
  const text: string;
  export default text;
}
