import { render } from 'preact';
import { App } from './ui/App';
import { loadConfig } from './config';
import './style.css';

const root = document.getElementById('app') as HTMLElement;
loadConfig()
  .then((config) => render(<App config={config} />, root))
  .catch((e: Error) => render(<p role="alert" class="error">Tessera cannot start: {e.message}</p>, root));
