/**
 * Security middleware of the Express app: helmet's headers with a Content-Security-Policy the demo
 * page satisfies (its own scripts and styles only, no inline code, no framing by other sites),
 * and CORS headers for the allowed origins only (see OriginPolicy).
 */
import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { OriginPolicy } from './origins';

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        // The demo's bundle and stylesheet are files; nothing inline, nothing eval'd.
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        // Signalling (wss:) and polling back to this origin only.
        'connect-src': ["'self'"],
        'media-src': ["'self'", 'blob:'],
        'object-src': ["'none'"],
        // A page that can use the camera must not be framed by another site.
        'frame-ancestors': ["'none'"],
      },
    },
    // The page embeds nothing cross-origin; COEP would only get in the way of a future TURN/CDN asset.
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** CORS headers for allowed foreign origins (the server's own needs none); never credentials. */
export function corsForOrigins(policy: OriginPolicy): RequestHandler {
  return cors((req, callback) => {
    const origin = req.headers.origin;
    callback(null, { origin: origin !== undefined && policy.allows(origin, req.headers.host), credentials: false });
  });
}
