// `pnpm bench sse`: the server-sent events benchmark lives in http.ts (SSE is served by @pirouette/http).
import "./http.ts";
