//! The deployment file written by `contracts/script/Deploy.s.sol`: `deployments/<chainId>.json`.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the contracts live on one chain, and from which block to index them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The `DistributedRender` contract.
    pub distributed_render: Address,
    /// The test token deployed on local chains; the zero address elsewhere.
    pub test_token: Address,
    /// The contract's owner.
    pub owner: Address,
    /// Where protocol fees are credited.
    pub treasury: Address,
    /// The block the deployment script started from: no contract event is older.
    pub deployment_block: u64,
}

/// Errors reading a deployment file.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The file could not be read.
    #[error("reading deployment file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a deployment document.
    #[error("parsing deployment file {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The file is for another chain than the one expected.
    #[error("deployment file {path} is for chain {found}, expected chain {expected}")]
    WrongChain {
        /// The file.
        path: PathBuf,
        /// The chain in the file.
        found: u64,
        /// The chain the caller is connected to.
        expected: u64,
    },
}

impl Deployment {
    /// The conventional path of a chain's deployment file under `dir`.
    pub fn path_for(dir: &Path, chain_id: u64) -> PathBuf {
        dir.join(format!("{chain_id}.json"))
    }

    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path).map_err(|source| DeploymentError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DeploymentError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a deployment file and checks that it belongs to `chain_id`.
    pub fn load_for_chain(path: &Path, chain_id: u64) -> Result<Self, DeploymentError> {
        let d = Self::load(path)?;
        if d.chain_id != chain_id {
            return Err(DeploymentError::WrongChain {
                path: path.to_owned(),
                found: d.chain_id,
                expected: chain_id,
            });
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_deploy_scripts_output() {
        let json = r#"{
          "chainId": 31337,
          "deploymentBlock": 3,
          "distributedRender": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          "owner": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
          "testToken": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
          "treasury": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        }"#;
        let dir = std::env::temp_dir().join(format!("tessera-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = Deployment::path_for(&dir, 31337);
        std::fs::write(&path, json).expect("write");
        let d = Deployment::load_for_chain(&path, 31337).expect("parse");
        assert_eq!(d.deployment_block, 3);
        assert_eq!(
            d.distributed_render,
            "0x5FbDB2315678afecb367f032d93F642f64180aa3"
                .parse::<Address>()
                .expect("address")
        );
        let err = Deployment::load_for_chain(&path, 1).expect_err("wrong chain");
        assert!(
            err.to_string().contains("chain 31337, expected chain 1"),
            "{err}"
        );
        let missing = Deployment::load(&dir.join("nope.json")).expect_err("missing");
        assert!(missing.to_string().contains("nope.json"), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
