import { type FormEvent, useState } from 'react';
import { api, roleOf, type Session, saveSession } from './api';
import { navigate } from './router';

async function logIn(email: string, password: string, onSession: (session: Session) => void) {
  const result = await api<{ token: string; user: Session['user'] }>('POST', '/api/sessions', {
    body: { email, password },
  });
  const session: Session = { token: result.token, user: result.user, role: roleOf(result.token) };
  saveSession(session);
  onSession(session);
}

export function LoginPage({ onSession }: { onSession: (session: Session) => void }) {
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      await logIn(String(form.get('email')), String(form.get('password')), onSession);
      navigate('/');
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  return (
    <form onSubmit={submit} className="form" aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      <label>
        Email <input name="email" type="email" autoComplete="email" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit" className="primary">
        Log in
      </button>
      {error && <p role="alert">{error}</p>}
      <p>
        No account?{' '}
        <a
          href="/register"
          onClick={(event) => {
            event.preventDefault();
            navigate('/register');
          }}
        >
          Register
        </a>
      </p>
    </form>
  );
}

export function RegisterPage({ onSession }: { onSession: (session: Session) => void }) {
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    try {
      await api('POST', '/api/users', { body: { username: String(form.get('username')), email, password } });
      await logIn(email, password, onSession);
      navigate('/');
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  return (
    <form onSubmit={submit} className="form" aria-labelledby="register-title">
      <h1 id="register-title">Register</h1>
      <label>
        Username{' '}
        <input
          name="username"
          minLength={3}
          maxLength={32}
          pattern="[a-zA-Z0-9_.\-]+"
          autoComplete="username"
          required
        />
      </label>
      <label>
        Email <input name="email" type="email" autoComplete="email" required />
      </label>
      <label>
        Password (8 characters or more){' '}
        <input name="password" type="password" minLength={8} maxLength={128} autoComplete="new-password" required />
      </label>
      <button type="submit" className="primary">
        Register
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
