import { useEffect, useState } from 'preact/hooks';
import { formatAmount } from '../lib/amount';
import { ETH_ADDRESS, tokenInfo, type TokenInfo } from '../lib/tokens';
import { shortAddress } from './format';

/** An amount of `token` in its own units (its decimals and symbol), or in smallest units until known. */
export function Amount({ value, token, rpcUrl }: { value: string; token: string; rpcUrl: string }) {
  const [info, setInfo] = useState<TokenInfo | null>(null);
  useEffect(() => {
    let live = true;
    tokenInfo(rpcUrl, token)
      .then((i) => live && setInfo(i))
      .catch(() => live && setInfo(null));
    return () => {
      live = false;
    };
  }, [rpcUrl, token]);
  if (!info) {
    return (
      <span title={token}>
        {value} units of {shortAddress(token)}
      </span>
    );
  }
  return (
    <span title={`${value} in the token's smallest unit${token.toLowerCase() === ETH_ADDRESS ? '' : ` (token ${token})`}`}>
      {formatAmount(BigInt(value), info.decimals, 6)} {info.symbol}
    </span>
  );
}
