// The app talks to the API from the browser with the session cookie; nothing is rendered on the server.
export const ssr = false;
